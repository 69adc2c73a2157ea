"""Event clips: the pre-roll from the ring plus the frames until post-roll, written as MP4 off the camera's thread."""

from __future__ import annotations

import contextlib
import errno
import shutil
import time
from collections import Counter, deque
from concurrent.futures import Executor, Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from gunwatch.config.sections import EvidenceSettings
from gunwatch.data.images import resize_to
from gunwatch.events.evidence import evidence_path
from gunwatch.events.model import ThreatEvent
from gunwatch.events.private import make_private_dirs, open_private
from gunwatch.events.ring import MAX_WIDTH, FrameRing
from gunwatch.video.frame import Frame
from gunwatch.video.writer import VideoWriter

MIN_FREE_FOR_CLIP = 16 * 1024 * 1024  # bytes free on the evidence disk before a clip is started

FALLBACK_FPS = 5.0  # a clip of one frame has no rate of its own
MAX_FPS = 60.0  # frames arriving in a burst (a source catching up) would otherwise ask for absurd rates


@dataclass(frozen=True)
class Clip:
    """A finished clip: the MP4 written, or `path` None and the reason in `error`."""

    event: ThreatEvent
    path: Path | None
    frames: int
    fps: float
    error: str | None = None


@dataclass
class _Recording:
    event: ThreatEvent
    frames: list[Frame]
    until: float  # wall-clock time of the last frame wanted


class ClipRecorder:
    """One camera's clips. Its thread calls `push` with every sampled frame (before analysing it), `start`
    when an event opens, and `poll` now and then to collect finished clips.

    A clip holds the ring's `pre_roll_s` before the event opened and the frames up to `post_roll_s` after
    it. Encoding runs on `executor` (default: one thread of its own; the pipeline may share one single-thread
    executor between all cameras so that encoding never takes more than one core from inference), so no call
    here waits for the encoder. Memory: a recording references the ring's shrunk frames and adds its
    post-roll, about 17 MB for 5 s at 5 fps at 640 x 360.
    """

    def __init__(
        self,
        folder: Path,
        pre_roll_s: float = 5.0,
        post_roll_s: float = 5.0,
        *,
        max_width: int = MAX_WIDTH,
        executor: Executor | None = None,
        # A camera that goes silent mid-recording (unplugged, or smashed) still gets its clip, this long after
        # the post-roll should have ended, with the frames it has.
        silence_s: float = 2.0,
    ):
        self.folder = Path(folder)
        self.post_roll_s = post_roll_s
        self.silence_s = silence_s
        self.ring = FrameRing(pre_roll_s, max_width)
        self._own_executor = executor is None
        self._executor = executor or ThreadPoolExecutor(max_workers=1, thread_name_prefix="clip-writer")
        self._recordings: list[_Recording] = []
        self._writing: list[tuple[ThreatEvent, Future[Clip]]] = []
        self._started: deque[str] = deque(maxlen=100)  # recent event ids: a repeated start is not a second clip

    @classmethod
    def from_settings(cls, settings: EvidenceSettings, executor: Executor | None = None) -> ClipRecorder:
        return cls(settings.folder, settings.pre_roll_s, settings.post_roll_s, executor=executor)

    @property
    def busy(self) -> bool:
        """True while a clip is being recorded or written."""
        return bool(self._recordings or self._writing)

    def push(self, frame: Frame) -> Frame:
        """Keep a sampled frame for clips; returns the shrunk copy kept."""
        small = self.ring.push(frame)
        for recording in self._recordings:
            recording.frames.append(small)
        self._finish([r for r in self._recordings if small.received >= r.until])
        return small

    def start(self, event: ThreatEvent) -> None:
        """Begin the event's clip with the pre-roll in the ring (a second call for the same event is ignored)."""
        if event.id in self._started:
            return
        self._started.append(event.id)
        recording = _Recording(event, self.ring.frames(), event.confirmed_at + self.post_roll_s)
        self._recordings.append(recording)
        if recording.frames and recording.frames[-1].received >= recording.until:
            self._finish([recording])  # no post-roll to wait for

    def poll(self, now: float | None = None) -> list[Clip]:
        """Clips written since the last poll (`Clip.path`; the event, a value, is left as it was). Recordings
        of a silent camera are ended first."""
        now = time.time() if now is None else now
        self._finish([r for r in self._recordings if now >= r.until + self.silence_s])
        done = [future.done() for _, future in self._writing]  # asked once: a write may end meanwhile
        finished = [item for item, ended in zip(self._writing, done, strict=True) if ended]
        self._writing = [item for item, ended in zip(self._writing, done, strict=True) if not ended]
        return [self._collect(event, future) for event, future in finished]

    def close(self) -> list[Clip]:
        """End every recording with the frames it has, wait for all writes, and return the clips not yet polled."""
        self._finish(list(self._recordings))
        clips = [self._collect(event, future) for event, future in self._writing]
        self._writing = []
        if self._own_executor:
            self._executor.shutdown(wait=True)
        return clips

    def _finish(self, recordings: list[_Recording]) -> None:
        for recording in recordings:
            self._recordings.remove(recording)
            path = evidence_path(self.folder, recording.event, ".mp4")
            future = self._executor.submit(_write, recording.event, recording.frames, path)
            self._writing.append((recording.event, future))

    @staticmethod
    def _collect(event: ThreatEvent, future: Future[Clip]) -> Clip:
        try:
            clip = future.result()
        except Exception as error:  # a full disk or a broken encoder must not stop the camera's loop
            clip = Clip(event, None, 0, 0.0, f"{type(error).__name__}: {error}")
        return clip


def _write(event: ThreatEvent, frames: list[Frame], path: Path) -> Clip:
    if not frames:
        return Clip(event, None, 0, 0.0, "no frames arrived for the clip")
    fps = write_clip(frames, path)
    return Clip(event, path, len(frames), fps)


def _require_space(folder: Path, frames: list[Frame], size: tuple[int, int]) -> None:
    """ENOSPC before encoding a clip the disk cannot hold: a clip that cannot be written is lost either way, and
    not encoding it leaves the cores to analysis. (A write failing half-way is safe too: see video/writer.py.)
    The estimate is generous: a tenth of the raw frames' bytes."""
    needed = max(MIN_FREE_FOR_CLIP, len(frames) * size[0] * size[1] * 3 // 10)
    free = shutil.disk_usage(folder).free
    if free < needed:
        raise OSError(errno.ENOSPC, f"{free // 1024} KiB free on the evidence disk, a clip needs about "
                                    f"{needed // 1024} KiB: not written", str(folder))


def clip_rate(frames: list[Frame]) -> float:
    """Frames per second as they arrived: (frames - 1) over the time from the first to the last."""
    span = frames[-1].received - frames[0].received
    if len(frames) < 2 or span <= 0:
        return FALLBACK_FPS
    return min(MAX_FPS, (len(frames) - 1) / span)


def write_clip(frames: list[Frame], path: Path) -> float:
    """Write the frames as H.264 MP4 at their arrival rate, all at the size most of them have; returns the rate.

    Written beside and renamed into place, so a reader never gets a clip without its index.
    """
    fps = round(clip_rate(frames), 3)
    sizes = [(f.image.shape[1], f.image.shape[0]) for f in frames]
    size = Counter(reversed(sizes)).most_common(1)[0][0]  # ties go to the latest size
    partial = path.with_name(path.stem + ".part" + path.suffix)  # the suffix tells PyAV the container
    make_private_dirs(path.parent)
    _require_space(path.parent, frames, size)
    try:
        open_private(partial).close()  # 0600: the writer opens the file that is there and keeps its mode
        # Fast and on one thread: clips are written beside live inference on the same cores.
        with VideoWriter(partial, fps, options={"preset": "veryfast"}, threads=1) as writer:
            for frame in frames:
                writer.write(resize_to(frame.image, size))
        partial.replace(path)
    finally:
        with contextlib.suppress(FileNotFoundError):
            partial.unlink()
    return fps
