"""A clip through the live pipeline's own parts, in accelerated time; then its confirmation for many settings.

1. `play_clip`: the file reader decodes without pacing and without the one-slot mailbox, so every frame
   is offered to the camera's `CameraLoop` in order, its time its stream timestamp (`Frame.received` =
   pts, so events carry stream times). The loop samples at `detect.fps` by those timestamps, the motion
   gate skips still frames, and `CameraLoop.request` goes to the detector service as in `gunwatch watch`
   (tiles, analysis size, second look: all from the camera's `detect` settings), here in its synchronous
   mode: each frame is analysed on the replay's thread before the next is offered, so a replay is
   deterministic. A live camera is sampled at whatever phase its frames happen to arrive in; `phase_s`
   starts the sampling clock that long after the clip's first frame, so several plays of one clip see
   different frames of it (at 30 fps and 5 analysed a second, offsets of 0, 67 and 133 ms take frames 0, 2
   and 4 of every 6).
   Each sampled frame's detections are kept (None: still).
2. `confirm`: detections do not depend on the threshold or the confirmation window, so each setting
   replays only the tracker and `ThreatConfirmer` over the kept detections, with the calls
   `CameraLoop.finish` (`update`) and the watch cycle (`tick`) make.

Frames with a gun detection that some setting could alarm on keep a small JPEG, for the contact sheet.
"""

from __future__ import annotations

import io
import threading
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
from PIL import Image

from gunwatch.bench.alarm_clips import BenchClip
from gunwatch.bench.alarm_matching import Alarm
from gunwatch.config.camera import Camera
from gunwatch.config.sections import ConfirmationSettings
from gunwatch.config.site import SiteConfig
from gunwatch.events.model import ThreatEvent
from gunwatch.inference.detections import Detections
from gunwatch.pipeline.analysis import FrameAnalyzer
from gunwatch.pipeline.camera_loop import CameraLoop
from gunwatch.pipeline.detector_service import DetectorService
from gunwatch.tracking.confirmation import ThreatConfirmer
from gunwatch.video.frame import Frame, PictureRules
from gunwatch.video.sources.failures import RecordingEnded, StreamFailure
from gunwatch.video.sources.file import FileReader
from gunwatch.video.sources.reader import ReadContext

PICTURE_WIDTH = 640  # contact-sheet pictures, as the evidence ring keeps them
PICTURE_QUALITY = 85


class ClipError(RuntimeError):
    """A clip that cannot be played (named by its path)."""


def play_label(name: str, phase_s: float) -> str:
    """A clip's name, with the phase of its play when it is not the first frame's."""
    return name if phase_s == 0 else f"{name} +{phase_s * 1000:.0f} ms"


@dataclass(frozen=True)
class SampledFrame:
    index: int  # decoded frame index
    pts: float
    size: tuple[int, int]  # (width, height)
    detections: Detections | None  # None: the motion gate found the frame still (not analysed)


@dataclass(frozen=True)
class Picture:
    """A sampled frame kept small, for the contact sheet."""

    jpeg: bytes
    scale: float  # picture pixels per frame pixel

    def image(self) -> np.ndarray:
        return np.asarray(Image.open(io.BytesIO(self.jpeg)).convert("RGB"))


@dataclass
class ClipPlay:
    clip: BenchClip
    start_pts: float  # clip time 0
    end_pts: float  # just after the last frame
    decoded: int
    phase_s: float = 0.0  # the sampling clock's start after the first frame
    sampled: list[SampledFrame] = field(default_factory=list)
    pictures: dict[int, Picture] = field(default_factory=dict)

    @property
    def label(self) -> str:
        return play_label(self.clip.name, self.phase_s)

    @property
    def duration_s(self) -> float:
        return self.end_pts - self.start_pts

    @property
    def analysed(self) -> int:
        return sum(frame.detections is not None for frame in self.sampled)


class OfferedFrame:
    """The loop's source: the one frame offered now (no thread, nothing dropped)."""

    def __init__(self) -> None:
        self.frame: Frame | None = None

    def offer(self, frame: Frame) -> None:
        self.frame = frame

    def latest(self, after: int = -1) -> Frame | None:
        return self.frame if self.frame is not None and self.frame.index > after else None

    def stop(self) -> None:
        self.frame = None


def _picture(frame: Frame) -> Picture:
    small = frame.reduced(PICTURE_WIDTH)
    buffer = io.BytesIO()
    Image.fromarray(small.image).save(buffer, "JPEG", quality=PICTURE_QUALITY)
    return Picture(buffer.getvalue(), small.size[0] / frame.size[0])


def play_clip(clip: BenchClip, camera: Camera, site: SiteConfig, analyzer: FrameAnalyzer, gun_class_id: int,
              keep_score: float, on_frame: Callable[[float], None] = lambda _: None,
              phase_s: float = 0.0) -> ClipPlay:
    """Every frame of the clip through the camera's loop; the detections of every sampled frame.

    `keep_score`: analysed frames with a gun at or above it keep a picture. `on_frame` hears each decoded
    frame's stream time (progress). `phase_s`: the first sample is the first frame at or after that long
    into the clip (less than one sampling period).
    """
    source = OfferedFrame()
    # The loop asks its source only for `latest` and `stop`.
    loop = CameraLoop(clip.name, camera, source, site, analyzer.threshold, analyzer.class_names, gun_class_id)  # type: ignore[arg-type]
    detector = DetectorService(analyzer, workers=0)
    reader = FileReader(camera, paced=False)
    errors: list[str] = []
    context = ReadContext(threading.Event(), site.health.stall_after_s, errors.append)
    play: ClipPlay | None = None
    rules = PictureRules.of(camera)
    frames = reader.frames(context)
    try:
        for index, (image, pts) in enumerate(frames):
            if pts is None:
                raise ClipError(f"{clip.path}: frame {index} has no timestamp")
            # received = pts: stream time throughout
            frame = Frame(clip.name, image, index, pts, pts, rules)
            if play is None:
                play = ClipPlay(clip, pts, pts, 0, phase_s)
                loop.next_due = pts + phase_s - 1e-6  # a frame exactly at the offset, despite rounding
            play.decoded, play.end_pts = index + 1, pts
            source.offer(frame)
            _sample(loop, frame, play, detector, gun_class_id, keep_score)
            on_frame(pts - play.start_pts)
    except RecordingEnded:
        pass  # the end of the file
    except StreamFailure as failure:
        raise ClipError(f"{clip.path}: {failure.reason}") from None
    finally:
        frames.close()
        loop.close()
    if play is None:
        raise ClipError(f"{clip.path}: no frames" + (f" ({errors[-1]})" if errors else ""))
    if play.decoded > 1:  # the last frame lasts one frame interval
        play.end_pts += (play.end_pts - play.start_pts) / (play.decoded - 1)
    return play


def _sample(loop: CameraLoop, frame: Frame, play: ClipPlay, detector: DetectorService, gun_class_id: int,
            keep_score: float) -> None:
    """As the watch cycle does for one camera: take the frame if due and not still, analyse, keep."""
    still = loop.counters.still
    taken = loop.take(frame.received)
    if taken is None:
        if loop.counters.still > still:  # sampled, but still
            play.sampled.append(SampledFrame(frame.index, frame.received, frame.size, None))
        return
    detections = detector.submit(loop.name, loop.request(taken)).result().detections
    loop.saw(taken, detections)  # as `finish` does live: a gun in view holds the motion gate open
    play.sampled.append(SampledFrame(taken.index, taken.received, taken.size, detections))
    guns = detections.of_class(gun_class_id)
    if len(guns) and float(guns.scores.max()) >= keep_score:
        play.pictures[taken.index] = _picture(taken)


@dataclass(frozen=True)
class ReplayedEvent:
    """A threat event of one setting's replay (its last state; stream times), with its best frame."""

    event: ThreatEvent
    best_index: int  # the frame of its highest score
    best_pts: float

    def alarm(self, start_pts: float) -> Alarm:
        """In clip seconds, for matching against the sidecar's episodes."""
        e = self.event
        closed = e.closed_at - start_pts if e.closed_at is not None else None
        return Alarm(e.first_seen - start_pts, e.confirmed_at - start_pts, e.last_seen - start_pts, closed,
                     self.best_pts - start_pts, e.best_box, e.max_score)


@dataclass(frozen=True)
class QuickLane:
    """Confirmation's quick lane: `hits` of the last `window` frames at `margin` over the threshold."""

    margin: float
    hits: int
    window: int

    @property
    def label(self) -> str:
        return f"+{self.margin:.2f}: {self.hits} of {self.window}"

    @classmethod
    def of(cls, settings: ConfirmationSettings) -> QuickLane | None:
        if settings.quick_margin is None:
            return None
        return cls(settings.quick_margin, settings.quick_hits, settings.quick_window)


@dataclass(frozen=True)
class ConfirmSetting:
    threshold: float
    min_hits: int
    window: int
    quick: QuickLane | None = None

    @property
    def label(self) -> str:
        quick = f", quick {self.quick.label}" if self.quick else ""
        return f"threshold {self.threshold:.2f}, {self.min_hits} of {self.window}{quick}"

    def confirmation(self, close_after_s: float) -> ConfirmationSettings:
        quick = self.quick
        lane = ({"quick_margin": quick.margin, "quick_hits": quick.hits, "quick_window": quick.window} if quick
                else {"quick_margin": None})
        return ConfirmationSettings(window=self.window, min_hits=self.min_hits, close_after_s=close_after_s, **lane)


def confirm(play: ClipPlay, camera: Camera, setting: ConfirmSetting, close_after_s: float, model_threshold: float,
            gun_class_id: int) -> list[ReplayedEvent]:
    """The clip's threat events under one setting, in the order they opened."""
    detect = camera.detect.model_copy(update={"threshold": setting.threshold})
    confirmation = setting.confirmation(close_after_s)
    confirmer = ThreatConfirmer(play.clip.name, camera.model_copy(update={"detect": detect}), confirmation,
                                model_threshold, gun_class_id)
    events: dict[str, ReplayedEvent] = {}
    for frame in play.sampled:
        if frame.detections is None:  # still: the watch cycle still ticks (events close on time)
            changes = confirmer.tick(frame.pts)
        else:
            changes = confirmer.update(frame.pts, frame.size, frame.detections, frame.pts)
        for change in changes:
            known = events.get(change.id)
            if change.state in ("open", "updated") or known is None:  # made by the frame in hand (confirmation.py)
                events[change.id] = ReplayedEvent(change, frame.index, frame.pts)
            else:
                events[change.id] = ReplayedEvent(change, known.best_index, known.best_pts)
    return list(events.values())
