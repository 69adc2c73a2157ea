"""`gunwatch detect`: run a detector over an image, a folder or a video; annotated files and JSON Lines out."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from PIL import Image

from gunwatch.inference.base import Detector
from gunwatch.inference.detections import Detections
from gunwatch.video.annotate import draw_detections
from gunwatch.video.files import Frame, SkipListener, iter_frames, kind_of, video_rate
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
    """Detections per frame, one frame at a time; annotated copies go to `out` (images as JPEG, in the folders
    they were in below `source`; videos as MP4).
    `on_skipped`: a folder's images that do not decode are left out and reported to it (see `iter_frames`)."""
    chosen = detector.threshold if threshold is None else threshold
    writer: VideoWriter | None = None
    written: set[Path] = set()  # annotated copies of this run, so that a.jpg and a.png do not share one
    if out is not None and kind_of(source) == "video":
        writer = VideoWriter(out / f"{source.stem}.annotated.mp4", video_rate(source) / every)
    try:
        for frame in iter_frames(source, every, on_skipped):
            (found,) = detector.detect([frame.image])
            result = FrameResult(frame, found.above(chosen))
            if out is not None:
                annotated = draw_detections(frame.image, result.detections, detector.class_names)
                if writer is not None:
                    writer.write(annotated)
                else:
                    target = annotated_path(out, source, frame.source, written)
                    target.parent.mkdir(parents=True, exist_ok=True)
                    Image.fromarray(annotated).save(target, quality=90)
            yield result
    finally:
        if writer is not None:
            writer.close()


def annotated_path(out: Path, source: Path, image: Path, written: set[Path]) -> Path:
    """Where an image's annotated copy goes: `out`, then the image's folder below `source` (a folder given to
    `detect`), then NAME.annotated.jpg by the image's stem, or its whole name where another image of the run
    already took the stem (a.jpg and a.png). Records the path in `written`."""
    below = image.parent.relative_to(source) if source.is_dir() else Path()
    target = out / below / f"{image.stem}.annotated.jpg"
    if target in written:
        target = out / below / f"{image.name}.annotated.jpg"
    written.add(target)
    return target
