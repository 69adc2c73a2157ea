"""A camera's last few seconds: rates over a sliding window, decaying once frames stop; the newest frame kept."""

from __future__ import annotations

import numpy as np
import pytest

from gunwatch.inference.detections import Detections
from gunwatch.pipeline.recent import RecentActivity
from gunwatch.video.frame import Frame


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def picture(index: int) -> Frame:
    return Frame("lobby", np.zeros((4, 4, 3), np.uint8), index, None, 1_700_000_000.0 + index)


def test_rates_over_the_window_and_down_to_zero_once_frames_stop() -> None:
    clock = Clock()
    recent = RecentActivity(window_s=5.0, clock=clock)
    assert recent.rates().fps_in == recent.rates().fps_analysed == 0.0 and recent.newest() is None
    # 10 s of a camera decoding 15 fps, sampled at 5 fps, every other sample analysed (20 ms, then 40 ms).
    for tick in range(50):
        clock.now += 0.2
        recent.frame_in(3 * tick)
        if tick % 2:
            recent.analysed(picture(3 * tick), Detections(), 0.1 * (tick % 5), 20.0 if tick < 25 else 40.0)
    rates = recent.rates()
    assert rates.fps_in == pytest.approx(15.0, rel=0.05)
    assert rates.fps_analysed == pytest.approx(2.5, rel=0.1)
    assert rates.infer_ms == pytest.approx(40.0)  # the last 5 s only
    assert rates.top_score == pytest.approx(0.4)
    newest = recent.newest()
    assert newest is not None and newest.frame.index == 3 * 49 and newest.serial == 25

    clock.now += 3.0  # the camera stalled: the window holds 2 s of frames
    stalled = recent.rates()
    assert 0 < stalled.fps_in < rates.fps_in and 0 < stalled.fps_analysed < rates.fps_analysed
    clock.now += 2.1
    assert recent.rates() == type(rates)(0.0, 0.0, 0.0, 0.0)
    assert recent.newest() is newest  # the last picture stays to be shown


def test_a_young_watch_divides_by_its_own_age() -> None:
    clock = Clock()
    recent = RecentActivity(window_s=5.0, clock=clock)
    for index in range(1, 6):
        clock.now += 0.2
        recent.frame_in(index)
        recent.analysed(picture(index), Detections(), 0.0, 10.0)
    rates = recent.rates()
    assert rates.fps_analysed == pytest.approx(5.0)
    assert rates.fps_in == pytest.approx(4 / 0.8)
