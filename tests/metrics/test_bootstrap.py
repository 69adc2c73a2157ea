"""The bootstrap over images: each draw re-measures what `gunwatch eval` measures, and paired draws compare
two models on the same images."""

from __future__ import annotations

import numpy as np
import pytest

from gunwatch.metrics.bootstrap import ImageSet, bootstrap, paired_bootstrap, recall_at_fpr, recall_intervals
from gunwatch.metrics.operating import image_recall_at_fpr

SIZE = (400, 400)
FPRS = (0.01, 0.02, 0.05)


def scene(seed: int, images: int = 120, gun_share: float = 0.6, gun_boost: float = 0.0):
    """Images with 0-2 guns, noisy boxes on most guns and stray boxes anywhere; ``gun_boost`` raises the scores
    of the boxes on guns (a better model on the same images)."""
    rng = np.random.default_rng(seed)
    gt, preds = [], []
    for _ in range(images):
        guns = rng.integers(1, 3) if rng.random() < gun_share else 0
        corners = rng.uniform(0, 300, (guns, 2))
        truth = np.hstack([corners, corners + rng.uniform(15, 90, (guns, 2))]).astype(np.float32)
        boxes, scores = [], []
        for box in truth:
            if rng.random() < 0.85:
                boxes.append(box + rng.normal(0, 6, 4))
                scores.append(min(1.0, rng.uniform(0.2, 0.95) + gun_boost))
        for _ in range(rng.integers(0, 3)):
            corner = rng.uniform(0, 300, 2)
            boxes.append(np.r_[corner, corner + rng.uniform(15, 90, 2)])
            scores.append(rng.uniform(0.0, 0.8))
        gt.append(truth.reshape(-1, 4))
        preds.append((np.asarray(boxes, dtype=np.float32).reshape(-1, 4), np.asarray(scores, dtype=np.float32)))
    return gt, preds, [SIZE] * images


def test_recall_from_top_scores_is_the_reports_recall_at_each_share_flagged():
    gt, preds, sizes = scene(0)
    images = ImageSet(gt, preds, sizes)
    for fpr in (*FPRS, 0.2, 1.0):
        assert recall_at_fpr(images.tops[images.has_gun], images.tops[~images.has_gun], fpr) == \
            image_recall_at_fpr(gt, preds, fpr)


def test_the_intervals_hold_the_whole_sets_numbers_and_repeat_with_the_seed():
    gt, preds, sizes = scene(1)
    images = ImageSet(gt, preds, sizes)
    whole = images.measure(np.flatnonzero(images.has_gun), np.flatnonzero(~images.has_gun), FPRS)
    drawn = bootstrap(images, FPRS, draws=300, seed=5)
    assert set(drawn) == {"map50", "0.01", "0.02", "0.05"}
    for key, interval in drawn.items():
        assert interval.low <= whole[key] <= interval.high, key
    assert drawn["map50"].high - drawn["map50"].low > 0.02  # 120 images cannot pin mAP down
    assert bootstrap(images, FPRS, draws=300, seed=5) == drawn
    assert bootstrap(images, FPRS, draws=300, seed=6) != drawn


def test_more_images_give_narrower_intervals():
    narrow = bootstrap(ImageSet(*scene(2, images=600)), FPRS, draws=200)["map50"]
    wide = bootstrap(ImageSet(*scene(2, images=60)), FPRS, draws=200)["map50"]
    assert narrow.high - narrow.low < wide.high - wide.low


def test_every_draw_keeps_the_sets_composition():
    gt, preds, sizes = scene(3, gun_share=0.3)
    images = ImageSet(gt, preds, sizes)
    seen: list[tuple[int, int]] = []
    original = images.measure

    def counting(guns, free, fprs):
        seen.append((int(images.has_gun[guns].sum()), int((~images.has_gun[free]).sum())))
        assert images.has_gun[guns].all() and not images.has_gun[free].any()
        return original(guns, free, fprs)

    images.measure = counting
    bootstrap(images, FPRS, draws=20)
    assert set(seen) == {(int(images.has_gun.sum()), int((~images.has_gun).sum()))}


def test_a_model_against_itself_differs_by_nothing():
    images = ImageSet(*scene(4))
    for difference in paired_bootstrap(images, images, FPRS, draws=100).values():
        assert (difference.interval.low, difference.interval.high, difference.ahead) == (0.0, 0.0, 0.0)


def test_a_model_scoring_every_gun_higher_comes_out_ahead_on_the_same_draws():
    gt, preds, sizes = scene(5)
    _, better, _ = scene(5, gun_boost=0.3)  # the same images and boxes, the guns' boxes scored higher
    compared = paired_bootstrap(ImageSet(gt, preds, sizes), ImageSet(gt, better, sizes), FPRS, draws=200)
    assert compared["map50"].interval.low > 0 and compared["map50"].ahead > 0.95
    assert compared["0.05"].interval.low > 0


def test_two_models_on_different_images_are_refused():
    with pytest.raises(ValueError, match="same images"):
        paired_bootstrap(ImageSet(*scene(6)), ImageSet(*scene(7)), FPRS, draws=10)
    with pytest.raises(ValueError, match="draws"):
        bootstrap(ImageSet(*scene(6)), FPRS, draws=0)


def test_recall_intervals_from_top_scores_alone_are_the_bootstraps():
    gt, preds, sizes = scene(8)
    order = sorted(range(len(gt)), key=lambda i: len(gt[i]) == 0)  # gun images first, as two photo folders
    images = ImageSet([gt[i] for i in order], [preds[i] for i in order], [sizes[i] for i in order])
    full = bootstrap(images, FPRS, draws=200, seed=2)
    alone = recall_intervals(images.tops[images.has_gun], images.tops[~images.has_gun], FPRS, draws=200, seed=2)
    assert alone == {key: interval for key, interval in full.items() if key != "map50"}
