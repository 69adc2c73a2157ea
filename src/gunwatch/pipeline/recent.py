"""One camera's last few seconds: its rates, its top gun score, and its newest analysed frame.

The camera's own thread writes (`frame_in` as it samples a frame, `analysed` as the detector's answer comes
back); any thread reads (`rates`, `newest`): the status line, the console's web threads, metrics. Writes keep
a reference to the frame and its boxes and never copy or encode them, so the camera's thread pays a lock and a
few appends; a reader that wants a picture makes it on its own thread (`live_view`).
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

from gunwatch.inference.detections import Detections
from gunwatch.video.frame import Frame

WINDOW_S = 5.0  # "the last few seconds": long enough to read a rate at 1 fps, short enough to see a change
KEPT = 4096  # entries per window at most, whatever the rates (30 fps for 5 s is 150)


@dataclass(frozen=True)
class RecentRates:
    fps_in: float  # frames decoded per second
    fps_analysed: float  # frames the detector answered per second
    infer_ms: float  # mean detector time per analysed frame (0 when none)
    top_score: float  # the highest score of a gun where guns count (zones, masks), at the threshold or not


@dataclass(frozen=True)
class Analysed:
    """The newest analysed frame: `serial` counts analysed frames, so a reader caches by it."""

    serial: int
    frame: Frame
    shown: Detections  # the boxes that count, in the frame's pixels


class RecentActivity:
    def __init__(self, window_s: float = WINDOW_S, clock: Callable[[], float] = time.monotonic) -> None:
        self.window_s, self.clock = window_s, clock
        self._lock = threading.Lock()  # held for appends and reads only, never while a picture is made
        self._since = clock()  # a younger watch divides by its own age, not the whole window
        self._decoded: deque[tuple[float, int]] = deque(maxlen=KEPT)  # (time, the sampled frame's index)
        self._analysed: deque[tuple[float, float, float]] = deque(maxlen=KEPT)  # (time, infer ms, top score)
        self._newest: Analysed | None = None

    def frame_in(self, index: int) -> None:
        """A frame was sampled; `index` counts the frames its source decoded, so the gaps are the frames dropped."""
        now = self.clock()
        with self._lock:
            self._decoded.append((now, index))
            # One entry older than the window stays: the rate's base at the window's start.
            while len(self._decoded) > 2 and self._decoded[1][0] <= now - self.window_s:
                self._decoded.popleft()

    def analysed(self, frame: Frame, shown: Detections, top_score: float, infer_ms: float) -> None:
        """The detector answered for `frame`: the boxes that count, the top gun score, the detector's time."""
        now = self.clock()
        with self._lock:
            serial = self._newest.serial + 1 if self._newest is not None else 1
            self._newest = Analysed(serial, frame, shown)
            self._analysed.append((now, infer_ms, top_score))
            while self._analysed and self._analysed[0][0] <= now - self.window_s:
                self._analysed.popleft()

    def newest(self) -> Analysed | None:
        with self._lock:
            return self._newest

    def rates(self) -> RecentRates:
        """Over the window up to now: a camera whose frames stopped decays to 0 as its entries age out."""
        now = self.clock()
        start = now - self.window_s
        with self._lock:
            decoded = list(self._decoded)
            analysed = [entry for entry in self._analysed if entry[0] > start]
        span = min(self.window_s, now - self._since)
        fps_analysed = len(analysed) / span if span > 0 else 0.0
        infer_ms = sum(entry[1] for entry in analysed) / len(analysed) if analysed else 0.0
        top = max((entry[2] for entry in analysed), default=0.0)
        return RecentRates(_counter_rate(decoded, now, start), fps_analysed, infer_ms, top)


def _counter_rate(samples: list[tuple[float, int]], now: float, start: float) -> float:
    """Per second of a counter sampled as (time, value), from the last sample at or before `start` (the first
    sample when the watch is younger) to now."""
    if not samples or samples[-1][0] <= start:
        return 0.0
    before = [sample for sample in samples if sample[0] <= start]
    base_time, base = before[-1] if before else samples[0]
    elapsed = now - base_time
    return (samples[-1][1] - base) / elapsed if elapsed > 0 else 0.0
