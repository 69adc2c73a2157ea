"""Frames from what a user points `gunwatch detect` at: an image, a video file, or a folder of them, each upright
(a photo turned by its EXIF orientation, a video by its display matrix; an interlaced video's comb taken out, and
its picture stretched to its shape as shown when its pixels are not square)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import av
import numpy as np

from gunwatch.data.images import IMAGE_SUFFIXES, ImageDecodeError, images_under, load_rgb
from gunwatch.video.aspect import stamp_sample_aspect
from gunwatch.video.frame import Frame as DecodedFrame

VIDEO_SUFFIXES = (".mp4", ".mkv", ".avi", ".mov", ".webm", ".ts", ".m4v", ".mpg", ".mpeg")


class SourceError(ValueError):
    """A source that cannot be read at all; names the path."""


@dataclass(frozen=True)
class Frame:
    source: Path  # the image or video file
    index: int  # frame number within a video (0 for a still image)
    image: np.ndarray  # HxWx3 uint8 RGB
    time_s: float | None = None  # presentation time within a video


def kind_of(path: Path) -> str:
    """"image", "video" or "folder"; SourceError for a missing path or another kind of file."""
    if not path.exists():
        raise SourceError(f"{path}: no such file or folder")
    if path.is_dir():
        return "folder"
    suffix = path.suffix.lower()
    if suffix in IMAGE_SUFFIXES:
        return "image"
    if is_video(path):
        return "video"
    raise SourceError(f"{path}: not an image ({', '.join(IMAGE_SUFFIXES)}), video or folder")


# Told what a folder's run left out: why (the file named), and the image or video that could not be read (None for
# files that are neither).
SkipListener = Callable[[str, Path | None], None]


def iter_frames(path: Path, every: int = 1, on_skipped: SkipListener | None = None) -> Iterator[Frame]:
    """Frames of an image, of a video (every Nth frame), or of every image and video in a folder and its
    subfolders (sorted by path).

    In a folder, an image or video that cannot be read (or a video that breaks off) ends the run with
    SourceError, unless `on_skipped` is given: then it hears why and the other files go on; it also hears of
    files that are neither images nor videos.
    """
    kind = kind_of(path)
    if kind == "image":
        yield read_image(path)
    elif kind == "folder":
        yield from _folder_frames(path, every, on_skipped)
    else:
        yield from video_frames(path, every)


def _folder_frames(folder: Path, every: int, on_skipped: SkipListener | None) -> Iterator[Frame]:
    try:
        images, other_files = images_under(folder)
    except OSError as error:
        raise SourceError(f"{folder}: cannot read the folder tree: {error}") from error
    videos = [p for p in other_files if is_video(p)]
    if not images and not videos:
        raise SourceError(f"{folder}: folder holds no images ({', '.join(IMAGE_SUFFIXES)}) "
                          f"or videos ({', '.join(VIDEO_SUFFIXES)})")
    others = Counter(p.suffix.lower() or "no suffix" for p in other_files if not is_video(p))
    if others and on_skipped is not None:
        kinds = ", ".join(f"{suffix} {count}" for suffix, count in sorted(others.items()))
        on_skipped(f"{folder}: {sum(others.values())} file(s) that are neither images nor videos left out "
                   f"({kinds})", None)
    for file in sorted([*images, *videos], key=lambda p: p.relative_to(folder).parts):
        try:
            if is_video(file):
                yield from video_frames(file, every)
            else:
                yield read_image(file)
        except SourceError as error:
            if on_skipped is None:
                raise
            on_skipped(str(error), file)  # a video that breaks off keeps the frames it gave


def is_video(path: Path) -> bool:
    return path.suffix.lower() in VIDEO_SUFFIXES


def read_image(path: Path) -> Frame:
    try:
        return Frame(path, 0, load_rgb(path))
    except (OSError, ImageDecodeError) as error:
        raise SourceError(f"{path}: image does not decode ({error})") from error


def video_frames(path: Path, every: int = 1) -> Iterator[Frame]:
    try:
        container = av.open(str(path))
    except av.FFmpegError as error:
        raise SourceError(f"{path}: not a readable video ({error})") from error
    with container:
        if not container.streams.video:
            raise SourceError(f"{path}: has no video stream")
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        try:
            for index, frame in enumerate(container.decode(stream)):
                if index % every == 0:
                    stamp_sample_aspect(frame, stream)
                    time_s = float(frame.pts * stream.time_base) if frame.pts is not None else None
                    shown = DecodedFrame(str(path), frame, index, time_s, 0.0).image  # upright, uncombed
                    yield Frame(path, index, shown, time_s)
        except av.FFmpegError as error:
            raise SourceError(f"{path}: video breaks off at frame {index + 1} ({error})") from error


def video_rate(path: Path) -> float:
    """Frames per second of a video's first stream (25 when the file does not say)."""
    with av.open(str(path)) as container:
        rate = container.streams.video[0].average_rate
    return float(rate) if rate else 25.0
