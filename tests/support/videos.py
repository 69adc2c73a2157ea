"""Small video files written on the fly for tests."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from gunwatch.video.writer import VideoWriter


def write_video(path: Path, frames: int = 12, size: tuple[int, int] = (160, 120), fps: float = 10.0) -> Path:
    """An H.264 MP4 of `frames` flat grey frames getting brighter, `size` (width, height) at `fps`."""
    with VideoWriter(path, fps, options={"g": str(max(1, round(fps)))}, threads=1) as writer:
        for index in range(frames):
            writer.write(np.full((size[1], size[0], 3), 20 * index % 255, np.uint8))
    return path
