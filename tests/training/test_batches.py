"""Batches: the same plan makes the same batch in the trainer and in worker processes."""

from __future__ import annotations

import numpy as np

from gunwatch.training.augment import AugmentSettings
from gunwatch.training.batches import BatchBuilder, plan_epoch
from gunwatch.training.detector_data import HANDGUN, DetectorSample
from gunwatch.training.paste import PasteBank


def samples(count: int = 10) -> list[DetectorSample]:
    rng = np.random.default_rng(0)
    out = []
    for i in range(count):
        image = rng.integers(0, 255, (80, 100, 3), dtype=np.uint8)
        boxes = np.array([[10, 10, 50, 40]], np.float32) if i % 2 else np.zeros((0, 4), np.float32)
        out.append(DetectorSample(image, boxes, np.full(len(boxes), HANDGUN, np.int64)))
    return out


def test_plan_covers_each_sample_once_with_drawn_sizes() -> None:
    plans = plan_epoch(10, 4, [64, 96], seed=3, epoch=2, use_mosaic=True)
    assert sorted(i for plan in plans for i in plan.indices) == list(range(10))
    assert [len(plan.indices) for plan in plans] == [4, 3, 3]
    assert {plan.size for plan in plans} <= {64, 96}
    assert plans == plan_epoch(10, 4, [64, 96], seed=3, epoch=2, use_mosaic=True)
    assert plans != plan_epoch(10, 4, [64, 96], seed=3, epoch=3, use_mosaic=True)
    assert len(plan_epoch(10, 4, [64], 3, 2, True, max_steps=2)) == 2


def test_workers_build_the_same_batches_as_the_trainer() -> None:
    data = samples()
    settings = AugmentSettings(small_guns=0.5, small_gun_px=(8, 20))
    plans = plan_epoch(len(data), 4, [64, 96], seed=0, epoch=1, use_mosaic=True)
    bank = PasteBank.from_samples(data)
    with BatchBuilder(data, settings, bank, workers=0) as inline:
        expected = list(inline.batches(plans))
    with BatchBuilder(data, settings, bank, workers=2) as pooled:
        got = list(pooled.batches(plans))
    assert len(got) == len(expected) == 3
    for a, b in zip(expected, got, strict=True):
        assert a.images.shape == b.images.shape and a.images.shape[1] in (64, 96)
        np.testing.assert_array_equal(a.images, b.images)
        for boxes_a, boxes_b in zip(a.boxes, b.boxes, strict=True):
            np.testing.assert_array_equal(boxes_a, boxes_b)
