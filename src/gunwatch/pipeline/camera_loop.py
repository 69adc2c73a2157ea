"""One camera's part of the live pipeline: sample its newest frame, gate on motion, confirm, keep evidence.

A `CameraLoop` owns no thread: the watch service calls it for every camera, from its pools but never from
two threads at once, so one detector serves them all. Its source thread only decodes; a camera that hangs
leaves `take` returning None.
"""

from __future__ import annotations

import logging
from concurrent.futures import Executor
from dataclasses import dataclass

from gunwatch.config.camera import Camera
from gunwatch.config.site import SiteConfig
from gunwatch.events.clips import Clip, ClipRecorder
from gunwatch.events.evidence import write_snapshots
from gunwatch.events.model import ThreatEvent
from gunwatch.inference.detections import Detections
from gunwatch.pipeline.analysis import AnalysisRequest
from gunwatch.tracking.confirmation import ThreatConfirmer
from gunwatch.video.frame import Frame
from gunwatch.video.motion import MotionGate
from gunwatch.video.sources import CameraSource

log = logging.getLogger(__name__)


@dataclass
class LoopCounters:
    """What the status line shows besides the source's own counters."""

    analysed: int = 0
    still: int = 0  # sampled frames the motion gate let pass without inference
    events: int = 0  # events opened
    infer_ms: float = 0.0  # smoothed share of a detector call per analysed frame


class CameraLoop:
    def __init__(self, name: str, camera: Camera, source: CameraSource, site: SiteConfig, model_threshold: float,
                 class_names: tuple[str, ...], gun_class_id: int, executor: Executor | None = None):
        self.name, self.camera, self.source = name, camera, source
        self.class_names = class_names
        self.folder = site.evidence.folder
        self.confirmer = ThreatConfirmer(name, camera, site.confirmation, model_threshold, gun_class_id)
        self.gate = MotionGate(site.motion.forced_check_s) if site.motion.enabled else None
        self.recorder = ClipRecorder.from_settings(site.evidence, executor)
        self.period = 1.0 / camera.detect.fps
        self.next_due = 0.0
        self.last_index = -1
        self.counters = LoopCounters()
        # The newest copy of each event, so a clip that finishes later is saved with the event's current state.
        self.events: dict[str, ThreatEvent] = {}

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
        # A fixed schedule keeps the rate; a camera that fell behind is due again at once, never in a burst.
        self.next_due = max(self.next_due + self.period, now)
        self.last_index = frame.index
        small = self.recorder.push(frame)
        # The gate reads a 128 px thumbnail, so the evidence-size copy serves as well as the full frame, and
        # a still frame is then never converted to RGB at full size.
        if self.gate is not None and not self.gate.check(small).analyse:
            self.counters.still += 1
            return None
        frame.image  # noqa: B018 - converted to RGB now, on the caller's thread (the service spreads takes)
        return frame

    def request(self, frame: Frame) -> AnalysisRequest:
        detect = self.camera.detect
        return AnalysisRequest(frame.image, detect.tiles, detect.width, detect.height, detect.second_look)

    def finish(self, frame: Frame, detections: Detections, infer_ms: float) -> list[ThreatEvent]:
        """The frame's detections: confirmation, and snapshots of the best frame as the event opens or grows."""
        self.counters.analysed += 1
        previous = self.counters.infer_ms if self.counters.analysed > 1 else infer_ms
        self.counters.infer_ms = 0.8 * previous + 0.2 * infer_ms
        changes = self.confirmer.update(frame.received, frame.size, detections, frame.pts)
        for event in changes:
            self.events[event.id] = event
            if event.state == "open":
                self.counters.events += 1
                self.recorder.start(event)
        return changes

    def snapshot(self, event: ThreatEvent, frame: Frame, detections: Detections) -> None:
        """Best-frame JPEGs (clean and annotated); written after the event is stored, off the alert's path."""
        try:
            write_snapshots(event, frame, detections, self.folder, class_names=self.class_names)
        except OSError as error:
            log.error("camera %s: snapshot of event %s not written: %s", self.name, event.id, error)

    def tick(self, now: float) -> list[ThreatEvent]:
        """Events that closed because the gun is gone (or frames stopped), and events whose clip is ready."""
        changes = self.confirmer.tick(now)
        for event in changes:
            self.events[event.id] = event
        changes.extend(self._with_clips(self.recorder.poll(now)))
        # Forget closed events whose clip is done.
        for event_id in [i for i, e in self.events.items() if e.state == "closed" and e.evidence.clip]:
            del self.events[event_id]
        return changes

    def close(self) -> list[ThreatEvent]:
        """Stop the source and finish open clips with the frames they have."""
        self.source.stop()
        return self._with_clips(self.recorder.close())

    def _with_clips(self, clips: list[Clip]) -> list[ThreatEvent]:
        """The current copy of each event whose clip was written (saved again, now with its clip)."""
        changes = []
        for clip in clips:
            if clip.error or clip.path is None:
                log.error("camera %s: clip of event %s not written: %s", self.name, clip.event.id, clip.error)
                continue
            current = self.events.get(clip.event.id, clip.event)
            current.evidence.clip = str(clip.path)
            changes.append(current)
        return changes
