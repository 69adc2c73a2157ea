"""Motion gating: still scenes are skipped, motion and the forced check are not."""

from __future__ import annotations

import functools
import time

import numpy as np
import pytest

from gunwatch.video.frame import Frame
from gunwatch.video.motion import MotionGate, thumbnail

T0 = 1_700_000_000.0


def scene(height: int = 720, width: int = 1280) -> np.ndarray:
    """A textured picture (values 40..180, so brightness can move both ways without clipping)."""
    rng = np.random.default_rng(0)
    coarse = rng.integers(40, 180, (height // 40 + 1, width // 40 + 1, 3), dtype=np.uint8)
    return np.ascontiguousarray(coarse.repeat(40, 0).repeat(40, 1)[:height, :width])


def frame(image: np.ndarray, t: float, index: int = 0) -> Frame:
    return Frame("lobby", image, index, None, T0 + t)


@functools.cache
def noise_fields(shape: tuple[int, ...], sigma: float = 6.0) -> list[np.ndarray]:
    """A few fields of sensor noise (normal, sigma 6 grey levels), cycled through: drawing one per frame is slow."""
    rng = np.random.default_rng(1)
    return [rng.normal(0, sigma, shape).round().astype(np.int16) for _ in range(5)]


def noisy(image: np.ndarray, seed: int) -> np.ndarray:
    noise = noise_fields(image.shape)[seed % 5]
    return np.clip(image + noise, 0, 255).astype(np.uint8)


def test_thumbnail_is_small_and_keeps_the_picture() -> None:
    image = np.zeros((720, 1280, 3), np.uint8)
    image[:, 640:, 1] = 200  # right half bright in green
    thumb = thumbnail(image)
    assert thumb.shape == (72, 128) and thumb.dtype == np.float32
    assert (thumb[:, :63] == 0).all() and (thumb[:, 65:] == 200).all()
    assert thumbnail(np.zeros((1080, 1920, 3), np.uint8)).shape == (72, 128)
    assert thumbnail(np.zeros((50, 60, 3), np.uint8)).shape == (50, 60)  # small frames are kept whole


def test_first_frame_is_analysed_then_identical_frames_are_still() -> None:
    gate, image = MotionGate(forced_check_s=10.0), scene()
    first = gate.check(frame(image, 0.0))
    assert first.analyse and first.reason == "first"
    for i in range(1, 10):
        decision = gate.check(frame(image, i * 0.2))
        assert not decision.analyse and decision.reason == "still" and decision.changed == 0.0


def test_sensor_noise_is_still() -> None:
    gate, image = MotionGate(forced_check_s=10.0), scene()
    gate.check(frame(noisy(image, 0), 0.0))
    reasons = {gate.check(frame(noisy(image, i), i * 0.2)).reason for i in range(1, 20)}
    assert reasons == {"still"}


@pytest.mark.parametrize("side", [120, 60])  # a person-sized and a hand-sized object in a 720p frame
def test_an_object_moving_in_is_motion(side: int) -> None:
    gate, image = MotionGate(forced_check_s=10.0), scene()
    gate.check(frame(image, 0.0))
    assert gate.check(frame(image, 0.2)).reason == "still"
    moved = image.copy()
    moved[300 : 300 + side, 500 : 500 + side] = 250
    decision = gate.check(frame(moved, 0.4))
    assert decision.analyse and decision.reason == "motion" and decision.changed > 0


def test_a_still_picture_is_forced_every_forced_check_s() -> None:
    gate, image = MotionGate(forced_check_s=2.0), scene()
    reasons = [gate.check(frame(image, i * 0.5)).reason for i in range(10)]  # 0.0, 0.5, ... 4.5 s
    assert reasons == ["first", "still", "still", "still", "forced", "still", "still", "still", "forced", "still"]


def test_a_still_object_becomes_background_but_is_still_forced() -> None:
    """A gun held still: motion while it arrives, then absorbed, then looked at again every forced_check_s."""
    gate, image = MotionGate(forced_check_s=3.0), scene()
    gate.check(frame(image, 0.0))
    held = image.copy()
    held[300:420, 500:620] = 250
    reasons = [gate.check(frame(held, 0.2 * i)).reason for i in range(1, 60)]  # 0.2 .. 11.8 s
    assert reasons[0] == "motion"
    settled = reasons.index("still")
    assert settled < 35  # absorbed within 7 s (a 200-level contrast decays below 12 in 2 s x ln(17))
    forced_times = [0.2 * (i + 1) for i, r in enumerate(reasons) if r == "forced"]
    assert len(forced_times) >= 2
    assert np.diff(forced_times) == pytest.approx(3.0, abs=0.21)


def test_a_slow_brightness_change_is_absorbed() -> None:
    gate, image = MotionGate(forced_check_s=100.0), scene()
    gate.check(frame(image, 0.0))
    # +3 grey levels a second for 20 s at 5 fps, with noise: dusk or an auto-exposure drift, +60 in all.
    reasons = {gate.check(frame(noisy(image + round(0.6 * i), i), 0.2 * i)).reason for i in range(1, 101)}
    assert reasons == {"still"}


def test_a_sudden_light_change_is_motion() -> None:
    gate, image = MotionGate(forced_check_s=100.0), scene()
    gate.check(frame(image, 0.0))
    assert gate.check(frame(image + 40, 0.2)).reason == "motion"


def test_a_new_resolution_starts_over() -> None:
    gate = MotionGate(forced_check_s=100.0)
    gate.check(frame(scene(), 0.0))
    assert gate.check(frame(scene(480, 640), 0.2)).reason == "first"


def test_a_clock_stepped_back_forces_a_check() -> None:
    gate, image = MotionGate(forced_check_s=2.0), scene()
    gate.check(frame(image, 100.0))
    assert gate.check(frame(image, 50.0)).reason == "forced"


@pytest.mark.parametrize(("height", "width"), [(720, 1280), (1080, 1920)])
def test_timing_is_printed(height: int, width: int) -> None:
    gate, image = MotionGate(), scene(height, width)
    gate.check(frame(image, 0.0))
    runs = 200
    start = time.perf_counter()
    for i in range(runs):
        gate.check(frame(image, 0.2 * (i + 1)))
    ms = (time.perf_counter() - start) / runs * 1e3
    print(f"motion gate {width}x{height}: {ms:.3f} ms per frame")
