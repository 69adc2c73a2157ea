"""`gunwatch detect`: run a detector over an image, a video or a folder of them; annotated files and JSON Lines out."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from gunwatch.inference.base import Detector
from gunwatch.inference.detections import Detections
from gunwatch.video.annotate import draw_detections
from gunwatch.video.files import Frame, SkipListener, is_video, iter_frames, video_rate
from gunwatch.video.writer import VideoWriter


@dataclass(frozen=True)
class FrameResult:
    frame: Frame
    detections: Detections  # above the threshold, in the frame's pixels

    def to_json_dict(self, class_names: tuple[str, ...]) -> dict[str, object]:
        return {
            "source": str(self.frame.source),
            "frame": self.frame.index,
            "detections": [
                {"label": class_names[c], "score": round(float(s), 4), "box": [round(float(v), 1) for v in box]}
                for box, s, c in zip(self.detections.xyxy, self.detections.scores, self.detections.class_ids,
                                     strict=True)
            ],
        }


def detect_source(
    detector: Detector, source: Path, out: Path | None, threshold: float | None = None, every: int = 1,
    on_skipped: SkipListener | None = None,
) -> Iterator[FrameResult]:
    """Detections per frame, one frame at a time; annotated copies go to `out` (images as JPEG, videos as MP4,
    in the folders they were in below `source`).
    `on_skipped`: a folder's images and videos that cannot be read are left out and reported to it (see
    `iter_frames`)."""
    chosen = detector.threshold if threshold is None else threshold
    copies = AnnotatedCopies(out, source, every) if out is not None else None
    try:
        for frame in iter_frames(source, every, on_skipped):
            (found,) = detector.detect([frame.image])
            result = FrameResult(frame, found.above(chosen))
            if copies is not None:
                copies.write(frame, draw_detections(frame.image, result.detections, detector.class_names))
            yield result
    finally:
        if copies is not None:
            copies.close()


class AnnotatedCopies:
    """The annotated copies of one run: a JPEG per image, an MP4 per video (its frames in order)."""

    def __init__(self, out: Path, source: Path, every: int):
        self.out, self.source, self.every = out, source, every
        self._written: set[Path] = set()  # so that a.jpg and a.png (or a.mp4 and a.mov) do not share one copy
        self._video: Path | None = None  # the video whose copy is open
        self._writer: VideoWriter | None = None

    def write(self, frame: Frame, annotated: np.ndarray) -> None:
        if not is_video(frame.source):
            target = self._target(frame.source, ".jpg")
            target.parent.mkdir(parents=True, exist_ok=True)
            Image.fromarray(annotated).save(target, quality=90)
            return
        if frame.source != self._video:
            self.close()  # a folder's frames come one file after another
            target = self._target(frame.source, ".mp4")
            target.parent.mkdir(parents=True, exist_ok=True)
            self._writer = VideoWriter(target, video_rate(frame.source) / self.every)
            self._video = frame.source
        assert self._writer is not None
        self._writer.write(annotated)

    def close(self) -> None:
        if self._writer is not None:
            self._writer.close()
        self._writer, self._video = None, None

    def _target(self, file: Path, suffix: str) -> Path:
        return annotated_path(self.out, self.source, file, self._written, suffix)


def annotated_path(out: Path, source: Path, file: Path, written: set[Path], suffix: str = ".jpg") -> Path:
    """Where a file's annotated copy goes: `out`, then the file's folder below `source` (a folder given to
    `detect`), then NAME.annotated.jpg (.mp4 for a video) by the file's stem, or its whole name where another
    file of the run already took the stem (a.jpg and a.png). Records the path in `written`."""
    below = file.parent.relative_to(source) if source.is_dir() else Path()
    target = out / below / f"{file.stem}.annotated{suffix}"
    if target in written:
        target = out / below / f"{file.name}.annotated{suffix}"
    written.add(target)
    return target
