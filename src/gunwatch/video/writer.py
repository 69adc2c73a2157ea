"""Annotated video out: H.264 in MP4 through PyAV."""

from __future__ import annotations

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
        self.container = av.open(str(path), mode="w")
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
        if self.stream is not None:
            self.container.mux(self.stream.encode())
        self.container.close()

    def __enter__(self) -> VideoWriter:
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None):
        self.close()
