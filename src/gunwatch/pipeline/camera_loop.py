"""One camera's part of the live pipeline: sample its newest frame, gate on motion, confirm, record clips.

A `CameraLoop` owns no thread and does no slow write: the steps below are called in order by one thread,
the camera's own (`camera_runner`) live, or a replay's (`bench/alarm_replay`), which also runs the frame
through the detector between `request` and `finish`. Its source thread only decodes; a camera that hangs
leaves `take` returning None. Snapshots and store writes are the caller's to hand to the writers.
"""

from __future__ import annotations

import logging
from concurrent.futures import Executor
from dataclasses import dataclass

from gunwatch.config.camera import Camera
from gunwatch.config.site import SiteConfig
from gunwatch.events.clips import Clip, ClipRecorder
from gunwatch.events.model import ThreatEvent
from gunwatch.inference.detections import Detections
from gunwatch.pipeline.analysis import AnalysisRequest
from gunwatch.pipeline.recent import RecentActivity
from gunwatch.tracking.confirmation import ThreatConfirmer
from gunwatch.video.frame import Frame
from gunwatch.video.motion import MotionGate
from gunwatch.video.sources import CameraSource

log = logging.getLogger(__name__)


@dataclass
class LoopCounters:
    """What the status line shows besides the source's own counters."""

    sampled: int = 0  # frames taken on schedule, counted when taken: analysed (later) or still
    analysed: int = 0
    still: int = 0  # sampled frames the motion gate let pass without inference
    events: int = 0  # events opened
    infer_ms: float = 0.0  # smoothed share of a detector call per analysed frame


@dataclass(frozen=True)
class Finished:
    """A frame through confirmation: the event's new versions, and the boxes that count on it (what a picture
    of the frame shows: guns where guns count, at or over the camera's threshold)."""

    changes: list[ThreatEvent]
    shown: Detections


def next_sample_due(due: float, period: float, taken_at: float) -> float:
    """When the sample after one due at `due` and taken at `taken_at` falls due: a period after `due`, a fixed
    schedule that keeps the rate, or at once for a camera that fell more than a period behind (it never makes
    up the samples it missed). Either way the sample after next is due no earlier than a period after this
    one was taken, so any W seconds hold at most W / period + 2 samples, however late each one is taken."""
    return max(due + period, taken_at)


class CameraLoop:
    def __init__(self, name: str, camera: Camera, source: CameraSource, site: SiteConfig, model_threshold: float,
                 class_names: tuple[str, ...], gun_class_id: int, executor: Executor | None = None):
        self.name, self.camera, self.source = name, camera, source
        self.class_names = class_names
        self.confirmer = ThreatConfirmer(name, camera, site.confirmation, model_threshold, gun_class_id)
        self.gate = MotionGate(site.motion.forced_check_s) if site.motion.enabled else None
        self.hold_score, self.hold_s = site.motion.gun_hold_score, site.motion.forced_check_s
        self.gun_seen_at: float | None = None  # the last analysed frame with a gun at or over hold_score
        self.recorder = ClipRecorder.from_settings(site.evidence, executor)
        self.period = 1.0 / camera.detect.fps
        self.next_due = 0.0
        self.last_index = -1
        self.counters = LoopCounters()
        self.recent = RecentActivity()  # read by the status line and the console, on their threads

    def due(self, now: float) -> bool:
        """Whether this camera's next sample is due (a new frame may still be missing)."""
        return now >= self.next_due

    def take(self, now: float) -> Frame | None:
        """The frame to analyse now, if this camera is due and has a new frame that is not still."""
        if now < self.next_due:
            return None
        frame = self.source.latest(self.last_index)
        if frame is None:
            return None
        self.next_due = next_sample_due(self.next_due, self.period, now)
        self.counters.sampled += 1
        self.last_index = frame.index
        self.recent.frame_in(frame.index)
        small = self.recorder.push(frame)
        # The gate reads a 128 px thumbnail, so the evidence-size copy serves as well as the full frame, and
        # a still frame is then never converted to RGB at full size.
        # A still frame is analysed all the same while a gun is in view: a gun held still must confirm as fast.
        if self.gate is not None and not self.gate.check(small).analyse and not self.gun_in_view(frame.received):
            self.counters.still += 1
            return None
        frame.image  # noqa: B018 - converted to RGB now, on the camera's own thread, not the detector's
        return frame

    def request(self, frame: Frame) -> AnalysisRequest:
        detect = self.camera.detect
        return AnalysisRequest(frame.image, detect.tiles, detect.width, detect.height, detect.second_look)

    def finish(self, frame: Frame, detections: Detections, infer_ms: float) -> Finished:
        """The frame's detections through confirmation. Each "open" or "updated" change was made by this frame,
        the event's best so far (its snapshot is the caller's to have written, with the boxes shown)."""
        self.counters.analysed += 1
        previous = self.counters.infer_ms if self.counters.analysed > 1 else infer_ms
        self.counters.infer_ms = 0.8 * previous + 0.2 * infer_ms
        changes = self.confirmer.update(frame.received, frame.size, detections, frame.pts)
        for event in changes:
            if event.state == "open":
                self.counters.events += 1
                self.recorder.start(event)
        placed = self.saw(frame, detections)
        shown = placed.above(self.confirmer.threshold)
        top = float(placed.scores.max()) if len(placed) else 0.0
        self.recent.analysed(frame, shown, top, infer_ms)
        return Finished(changes, shown)

    def gun_in_view(self, now: float) -> bool:
        """Whether a gun candidate seen lately keeps the motion gate open (a still picture analysed all the same)."""
        return self.gun_seen_at is not None and 0 <= now - self.gun_seen_at <= self.hold_s

    def saw(self, frame: Frame, detections: Detections) -> Detections:
        """Notes an analysed frame's guns for the motion gate's hold; returns the guns that count, of any score."""
        placed = self._placed_guns(frame.size, detections)
        if self.hold_score is not None and len(placed) and float(placed.scores.max()) >= self.hold_score:
            self.gun_seen_at = frame.received
        return placed

    def _placed_guns(self, size: tuple[int, int], detections: Detections) -> Detections:
        """The gun boxes where guns count (in an enabled zone, outside every mask), of any score: the same rule
        the confirmer applies, so a gun on a masked poster is neither drawn nor an "almost"."""
        guns = detections.of_class(self.confirmer.gun_class_id)
        counts, _ = self.confirmer.zones.place(guns.xyxy, size)
        return guns[counts]

    def tick(self, now: float) -> list[ThreatEvent]:
        """Events that closed because the gun is gone (or frames stopped)."""
        return self.confirmer.tick(now)

    def clips(self, now: float) -> list[Clip]:
        """Clips written since the last call (one that failed is logged and left out)."""
        return self._written(self.recorder.poll(now))

    def close(self) -> list[Clip]:
        """Stop the source and finish open clips with the frames they have."""
        self.source.stop()
        return self._written(self.recorder.close())

    def _written(self, clips: list[Clip]) -> list[Clip]:
        for clip in clips:
            if clip.error or clip.path is None:
                log.error("camera %s: clip of event %s not written: %s", self.name, clip.event.id, clip.error,
                          extra={"camera": self.name, "event": clip.event.id})
        return [clip for clip in clips if clip.path is not None and not clip.error]
