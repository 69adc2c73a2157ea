"""A decoded frame of one camera, the unit that flows from sources to detection, tracking and evidence."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Frame:
    camera: str
    image: np.ndarray  # H x W x 3 uint8 RGB
    index: int  # frames decoded so far by this camera's source (0-based; restarts never reuse an index)
    pts: float | None  # the stream's own timestamp in seconds, None when the stream carries none
    received: float  # wall-clock time (time.time()) when the frame was decoded

    @property
    def size(self) -> tuple[int, int]:
        """(width, height)"""
        return self.image.shape[1], self.image.shape[0]
