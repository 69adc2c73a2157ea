"""Motion gating: no inference on a still picture, yet a forced look every few seconds.

Runs on every sampled frame of every camera, so the thumbnail reads a few thousand pixels, not the frame:
about 0.1 ms for a 720p frame on this machine's CPU (tests/video/test_motion.py prints it).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

import numpy as np

from gunwatch.video.frame import Frame

Reason = Literal["first", "motion", "forced", "still"]


@dataclass(frozen=True)
class MotionDecision:
    analyse: bool
    reason: Reason
    changed: float  # share of thumbnail pixels that differ from the background (0.0 on the first frame)


def thumbnail(image: np.ndarray, side: int = 128, samples: int = 4) -> np.ndarray:
    """A grey float32 thumbnail with its longest side about `side` px (e.g. 128 x 72 for 720p and 1080p).

    Each thumbnail pixel is the mean of samples x samples points spread over its block of the frame, which
    averages sensor noise away at a fraction of the cost of a full area mean. Grey is the green channel:
    it carries most of the luminance, and one channel is a third of the reads.
    """
    if not 1 <= samples <= 16:
        raise ValueError(f"samples must be 1..16 (sums fit in uint16), got {samples}")
    height, width = image.shape[:2]
    step = max(1, min(math.ceil(max(height, width) / side), height, width))
    rows, cols = height // step, width // step
    k = min(samples, step)
    offsets = [(2 * i + 1) * step // (2 * k) for i in range(k)]
    total = np.zeros((rows, cols), np.uint16)
    for dy in offsets:
        for dx in offsets:
            total += image[dy : dy + rows * step : step, dx : dx + cols * step : step, 1]
    return total.astype(np.float32) * np.float32(1 / (k * k))


class MotionGate:
    """Decides, for one camera's frames in time order, whether a frame needs inference.

    Each frame's thumbnail is compared with a background that follows the picture slowly (an exponential
    running average), so lighting drift and noise are absorbed while a moving object stands out. The first
    frame is always analysed, and so is a frame `forced_check_s` after the last analysed one: a gun held
    still becomes background within seconds and must not be ignored for long.
    """

    def __init__(
        self,
        forced_check_s: float = 2.0,
        *,
        # Grey levels a thumbnail pixel must move by: noise averaged over 16 samples stays far below it.
        delta: float = 12.0,
        # Share of thumbnail pixels that must change: 0.001 of 128 x 72 is 9 pixels, a 90 x 90 px patch of a
        # 720p frame; a person walking in changes hundreds. Smaller changes wait for the forced check.
        min_changed: float = 0.001,
        # Time constant of the background (seconds): slow enough that a walker stands out, fast enough that
        # clouds, dusk and auto-exposure drifts (a few grey levels per second) stay within `delta`.
        adapt_s: float = 2.0,
        side: int = 128,
    ):
        if forced_check_s <= 0 or adapt_s <= 0:
            raise ValueError("forced_check_s and adapt_s must be > 0")
        self.forced_check_s = forced_check_s
        self.delta = delta
        self.min_changed = min_changed
        self.adapt_s = adapt_s
        self.side = side
        self._background: np.ndarray | None = None
        self._last_frame_at = 0.0
        self._last_analysed_at = 0.0

    def check(self, frame: Frame) -> MotionDecision:
        """The decision for `frame`, timed by its wall-clock arrival (`received`)."""
        return self.check_image(frame.image, frame.received)

    def check_image(self, image: np.ndarray, now: float) -> MotionDecision:
        thumb = thumbnail(image, self.side)
        if self._background is None or self._background.shape != thumb.shape:
            # A new stream, or a reconnect at another resolution: nothing to compare with.
            self._background = thumb
            self._last_frame_at = self._last_analysed_at = now
            return MotionDecision(True, "first", 0.0)
        changed = np.count_nonzero(np.abs(thumb - self._background) > self.delta) / thumb.size
        self._adapt(thumb, now)
        if changed >= self.min_changed:
            reason: Reason = "motion"
        # `now <` guards a wall clock stepped back, which would otherwise postpone the check for that long.
        elif now - self._last_analysed_at >= self.forced_check_s or now < self._last_analysed_at:
            reason = "forced"
        else:
            return MotionDecision(False, "still", changed)
        self._last_analysed_at = now
        return MotionDecision(True, reason, changed)

    def _adapt(self, thumb: np.ndarray, now: float) -> None:
        # Weighted by elapsed time, so the background adapts at the same speed at any detect fps; after a
        # long gap (a stalled camera) the weight nears 1 and the background restarts from the new picture.
        weight = 1.0 - math.exp(-max(0.0, now - self._last_frame_at) / self.adapt_s)
        self._background += np.float32(weight) * (thumb - self._background)
        self._last_frame_at = now
