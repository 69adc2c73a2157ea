"""Small video files written on the fly for tests."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import av
import numpy as np

from gunwatch.video.writer import VideoWriter


def write_video(path: Path, frames: int = 12, size: tuple[int, int] = (160, 120), fps: float = 10.0) -> Path:
    """An H.264 MP4 of `frames` flat grey frames getting brighter, `size` (width, height) at `fps`."""
    with VideoWriter(path, fps, options={"g": str(max(1, round(fps)))}, threads=1) as writer:
        for index in range(frames):
            writer.write(np.full((size[1], size[0], 3), 20 * index % 255, np.uint8))
    return path


def write_phone_clip(path: Path, shown: np.ndarray, display_ccw: int, frames: int = 6, fps: float = 10.0) -> Path:
    """An H.264 MP4 that a player shows as `shown` (H x W x 3) every frame: its pixels stored turned back, with a
    display matrix of `display_ccw` degrees counter-clockwise (a phone's portrait clip: -90), as phones write it."""
    stored = np.ascontiguousarray(np.rot90(shown, -(display_ccw // 90)))
    with av.open(str(path), "w") as container:
        stream = container.add_stream("libx264", rate=round(fps))
        stream.width, stream.height, stream.pix_fmt = stored.shape[1], stored.shape[0], "yuv420p"
        stream.set_display_rotation(display_ccw)
        for _ in range(frames):
            container.mux(stream.encode(av.VideoFrame.from_ndarray(stored, format="rgb24")))
        container.mux(stream.encode())
    return path


def write_hevc_video(path: Path, picture: np.ndarray, frames: int = 30, fps: int = 10) -> Path:
    """An H.265 (HEVC) MP4 of `picture` (H x W x 3) every frame, a key frame every second and one slice a frame, as
    many cameras stream by default."""
    with av.open(str(path), "w") as container:
        stream = container.add_stream("libx265", rate=fps)
        stream.width, stream.height, stream.pix_fmt = picture.shape[1], picture.shape[0], "yuv420p"
        stream.options = {"x265-params": f"keyint={fps}:min-keyint={fps}:log-level=error"}
        for _ in range(frames):
            container.mux(stream.encode(av.VideoFrame.from_ndarray(np.ascontiguousarray(picture), format="rgb24")))
        container.mux(stream.encode())
    return path


def woven_picture(first: np.ndarray, second: np.ndarray) -> np.ndarray:
    """Two fields woven into one picture, as an interlaced camera sends it: the even lines of `first`, the odd
    lines of `second` (taken a field later)."""
    picture = first.copy()
    picture[1::2] = second[1::2]
    return picture


def write_interlaced_video(path: Path, picture: np.ndarray, frames: int = 3, fps: int = 10,
                           flagged: bool = True) -> Path:
    """An H.264 MP4 of `picture` every frame, coded as interlaced video (top field first) when `flagged`, so that
    the decoder says so; otherwise the same picture coded as progressive (an encoder that wove the fields)."""
    with av.open(str(path), "w") as container:
        stream = container.add_stream("libx264", rate=fps)
        stream.width, stream.height, stream.pix_fmt = picture.shape[1], picture.shape[0], "yuv420p"
        if flagged:
            stream.options = {"x264-params": "interlaced=1:tff=1"}
        for _ in range(frames):
            container.mux(stream.encode(av.VideoFrame.from_ndarray(np.ascontiguousarray(picture), format="rgb24")))
        container.mux(stream.encode())
    return path


def write_still_video(path: Path, picture: np.ndarray, frames: int = 3, fps: int = 10,
                      sar: Fraction | None = None) -> Path:
    """An H.264 MP4 of `picture` every frame; with `sar`, its pixels are that many times as wide as tall (a sample
    aspect ratio signalled in the stream, as an analogue camera's encoder or an anamorphic sub-stream writes it)."""
    with av.open(str(path), "w") as container:
        stream = container.add_stream("libx264", rate=fps)
        stream.width, stream.height, stream.pix_fmt = picture.shape[1], picture.shape[0], "yuv420p"
        if sar is not None:
            stream.codec_context.sample_aspect_ratio = sar
        for _ in range(frames):
            container.mux(stream.encode(av.VideoFrame.from_ndarray(np.ascontiguousarray(picture), format="rgb24")))
        container.mux(stream.encode())
    return path
