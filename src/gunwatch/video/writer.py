"""Annotated video out: H.264 in MP4 through PyAV.

The file is written through a Python file object, not opened by FFmpeg: on a full disk FFmpeg's own file
output fails a write and then crashes the whole process (SIGSEGV) when the container is closed (seen with
PyAV 18.1 and three writers filling a small tmpfs, every time); through Python the failed write is an
ordinary OSError and closing is safe.
"""

from __future__ import annotations

import contextlib
from fractions import Fraction
from pathlib import Path
from types import TracebackType

import av
import numpy as np


class VideoWriter:
    """Write RGB frames (all the same size) to an MP4 file at a fixed rate."""

    def __init__(self, path: Path, fps: float, options: dict[str, str] | None = None, threads: int = 0):
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self.options, self.threads = options or {}, threads  # libx264 options; 0 threads: as many as it likes
        self.fps = Fraction(fps).limit_denominator(1001)
        self._file = path.open("wb")  # an existing file keeps its mode (clips: 0600)
        try:
            self.container = av.open(self._file, mode="w", format=_container_format(path))
        except BaseException:
            self._file.close()
            raise
        self.stream: av.VideoStream | None = None

    def write(self, image: np.ndarray) -> None:
        if self.stream is None:
            self.stream = self.container.add_stream("libx264", rate=self.fps)
            # yuv420p needs even sides; odd ones are cropped by a pixel.
            self.stream.width, self.stream.height = image.shape[1] // 2 * 2, image.shape[0] // 2 * 2
            self.stream.pix_fmt = "yuv420p"
            self.stream.options = self.options
            self.stream.codec_context.thread_count = self.threads
        image = image[: self.stream.height, : self.stream.width]
        frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(image), format="rgb24")
        self.container.mux(self.stream.encode(frame))

    def close(self) -> None:
        try:
            if self.stream is not None:
                self.container.mux(self.stream.encode())
            self.container.close()
        finally:
            self._file.close()

    def abandon(self) -> None:
        """Close after a failure: no flush; the file is incomplete and the caller's error is the one that counts."""
        with contextlib.suppress(Exception):
            self.container.close()
        with contextlib.suppress(Exception):
            self._file.close()

    def __enter__(self) -> VideoWriter:
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None):
        if error is None:
            self.close()
        else:
            self.abandon()


def _container_format(path: Path) -> str:
    """FFmpeg's muxer for the file's suffix (it cannot guess it from a file object)."""
    formats = {".mp4": "mp4", ".m4v": "mp4", ".mov": "mov", ".mkv": "matroska", ".avi": "avi"}
    if path.suffix.lower() not in formats:
        raise ValueError(f"{path}: no video container for {path.suffix!r} (use one of {', '.join(formats)})")
    return formats[path.suffix.lower()]
