"""The pre-roll ring: only the last seconds, shrunk."""

from __future__ import annotations

import numpy as np
import pytest

from gunwatch.events.ring import FrameRing, shrink
from gunwatch.video.frame import Frame

T0 = 1_700_000_000.0


def frame(t: float, width: int = 160, height: int = 120, index: int = 0) -> Frame:
    return Frame("lobby", np.full((height, width, 3), index % 256, np.uint8), index, t, T0 + t)


def test_the_ring_keeps_only_the_last_seconds() -> None:
    ring = FrameRing(seconds=2.0)
    for i in range(40):  # 5 s at 8 fps
        ring.push(frame(i / 8, index=i))
    kept = ring.frames()
    assert len(ring) == 17  # 2 s at 8 fps, both ends included
    assert [f.index for f in kept] == list(range(23, 40))
    assert kept[-1].received - kept[0].received == pytest.approx(2.0)


def test_a_zero_second_ring_keeps_the_latest_frame() -> None:
    ring = FrameRing(seconds=0.0)
    for i in range(3):
        ring.push(frame(i * 0.5, index=i))
    assert [f.index for f in ring.frames()] == [2]


def test_frames_are_shrunk_to_640_wide() -> None:
    ring = FrameRing(seconds=1.0)
    kept = ring.push(frame(0.0, 1920, 1080, index=200))
    assert kept.image.shape == (360, 640, 3) and (kept.image == 200).all()
    assert ring.push(frame(0.1, 1280, 720)).image.shape == (360, 640, 3)
    assert ring.push(frame(0.2, 1000, 500)).image.shape == (250, 500, 3)
    small = frame(0.3, 640, 480)
    assert shrink(small) is small  # small enough: kept as it is, no copy


def test_both_sides_are_bounded() -> None:
    # A source sending a strip 640 wide and 130000 tall kept it whole (238 MiB a frame, 6 GB a ring); the
    # ring now fits every frame in 640 x 640, by the same integer reduction.
    ring = FrameRing(seconds=1.0)
    strip = ring.push(frame(0.0, 320, 20_000, index=9))
    assert strip.image.shape == (625, 10, 3) and (strip.image == 9).all()  # 20000 / 32 = 625
    portrait = ring.push(frame(0.1, 1080, 1920))
    assert portrait.image.shape == (640, 360, 3)
    assert shrink(frame(0.2, 100, 90_000), 640, 640).image.shape[0] <= 640
    assert all(f.image.shape[0] <= 640 and f.image.shape[1] <= 640 for f in ring.frames())


def test_a_clock_stepped_back_starts_the_ring_over() -> None:
    ring = FrameRing(seconds=5.0)
    ring.push(frame(10.0, index=1))
    ring.push(frame(2.0, index=2))
    assert [f.index for f in ring.frames()] == [2]
