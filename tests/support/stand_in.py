"""A stand-in model and tiny clips for pipeline tests whose point is not the model: the test decides when a gun
is in view."""

from __future__ import annotations

import threading
from pathlib import Path

import numpy as np

from gunwatch.inference.detections import Detections
from gunwatch.video.writer import VideoWriter


class GunWhileHeld:
    """A handgun box (score 0.9) in the middle of every picture while `gun` is set; nothing otherwise."""

    name, class_names, threshold = "stand-in", ("person", "handgun"), 0.5

    def __init__(self) -> None:
        self.gun = threading.Event()

    def detect(self, images: list[np.ndarray]) -> list[Detections]:
        if not self.gun.is_set():
            return [Detections() for _ in images]
        return [Detections([[0.4 * i.shape[1], 0.4 * i.shape[0], 0.6 * i.shape[1], 0.6 * i.shape[0]]], [0.9], [1])
                for i in images]


def grey_clip(path: Path, grey: int) -> Path:
    """2 s of 160x120 grey frames at 10 fps, a little brighter each frame (a key frame every second)."""
    with VideoWriter(path, 10.0, options={"g": "10"}, threads=1) as writer:
        for index in range(20):
            writer.write(np.full((120, 160, 3), grey + index, np.uint8))
    return path
