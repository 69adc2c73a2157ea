"""A stand-in model and cameras for pipeline tests that are about threads, not detection.

    model = GunInTheMiddle(hold)            # a handgun box in the middle of every picture; with `hold`, the
                                            # first call with a red picture hangs until it is set
    model = GunInTheMiddle(hold, resume)    # and later calls with a red picture fail until `resume` is set
    write_clip(path, RED)                   # 2 s of 160x120 frames at 10 fps, for a looping file camera
"""

from __future__ import annotations

import threading
from pathlib import Path

import numpy as np

from gunwatch.inference.detections import Detections
from gunwatch.video.writer import VideoWriter

WAIT_S = 60.0  # a bound for what must happen, on a loaded machine; reached only when the code is wrong
RED = (200, 30, 30)
GREY = (90, 90, 90)


class GunInTheMiddle:
    """A stand-in model: a handgun box in the middle of every picture, score 0.9. With `hold`, its first call
    with a mostly red picture waits for it: a detector call that hangs (once); `held` says it is waiting. With
    `resume` too, the calls with a red picture after that one fail at once until `resume` is set: the camera
    stays unanalysed (without hanging again) for as long as the test needs it to."""

    name, class_names, threshold = "stand-in", ("person", "handgun"), 0.5

    def __init__(self, hold: threading.Event | None = None, resume: threading.Event | None = None) -> None:
        self.hold, self.resume, self.held = hold, resume, threading.Event()

    def detect(self, images: list[np.ndarray]) -> list[Detections]:
        red = any(image[..., 0].mean() > 150 > image[..., 1].mean() for image in images)
        if self.hold is not None and red and not self.held.is_set():
            self.held.set()
            assert self.hold.wait(WAIT_S), "the test never released the detector"
        elif self.resume is not None and red and not self.resume.is_set():
            raise RuntimeError("the stand-in model fails on red pictures until the test resumes it")
        return [Detections([[0.4 * i.shape[1], 0.4 * i.shape[0], 0.6 * i.shape[1], 0.6 * i.shape[0]]], [0.9], [1])
                for i in images]


def write_clip(path: Path, colour: tuple[int, int, int]) -> Path:
    """2 s of 160x120 frames at 10 fps in `colour`, a little brighter each frame."""
    with VideoWriter(path, 10.0, options={"g": "10"}, threads=1) as writer:
        for index in range(20):
            writer.write(np.clip(np.array(colour) + index, 0, 255).astype(np.uint8)[None, None, :].repeat(120, 0)
                         .repeat(160, 1))
    return path
