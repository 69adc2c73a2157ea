"""How far an evaluation's numbers could move on another draw of images: a bootstrap over the images.

The test split holds 447 gun images and 150 gun-free ones, so "recall at <= 2 % of gun-free images flagged"
rests on the three highest-scoring gun-free images, and two training seeds of one recipe differ there by up
to 0.08. Each draw takes as many gun images and as many gun-free images as the set holds, with replacement
(each kind drawn apart, so every draw keeps the split's composition), and measures again: mAP@0.5 from
pycocotools' own matches (matched once, re-accumulated per draw) and the threshold-free gun-image recalls,
whose threshold is set again on each draw's gun-free images. The 2.5th and 97.5th percentiles of the draws
make the 95 % interval.

Two models measured on the same images are compared on the same draws (``paired_bootstrap``): the interval
of the difference, and how often the second came out ahead. That, not two separate intervals, says whether
a change beats the shipped model or only its luck on this split.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from gunwatch.metrics._inputs import as_boxes, as_pred, check_lengths
from gunwatch.metrics.coco_map import ImageMatches, ap50, coco_matches_at_50

DRAWS = 1000
CONFIDENCE = 0.95


@dataclass(frozen=True)
class Interval:
    low: float
    high: float

    def as_list(self) -> list[float | None]:
        return [None if np.isnan(v) else round(float(v), 4) for v in (self.low, self.high)]


@dataclass(frozen=True)
class Difference:
    """Second model minus first on the same draws: the interval, and the share of draws where it is above 0."""

    interval: Interval
    ahead: float


class ImageSet:
    """One model's predictions on one set of images, reduced to what each draw re-measures."""

    def __init__(
        self,
        gt_per_image: Sequence[np.ndarray],
        pred_per_image: Sequence[tuple[np.ndarray, np.ndarray]],
        image_sizes: Sequence[tuple[int, int]],
        matches: ImageMatches | None = None,
    ) -> None:
        """``matches``: pycocotools' matches of these predictions where an evaluation already has them
        (``CocoSummary.matches``), else they are computed here."""
        check_lengths(gt=gt_per_image, pred=pred_per_image, sizes=image_sizes)
        self.has_gun = np.array([len(as_boxes(gt)) > 0 for gt in gt_per_image], dtype=bool)
        # An image's top score decides whether it is flagged; -inf where the model proposes nothing.
        self.tops = np.array([float(s.max()) if s.size else -np.inf for s in (as_pred(p)[1] for p in pred_per_image)])
        if matches is None and self.has_gun.any():
            matches = coco_matches_at_50(gt_per_image, pred_per_image, image_sizes)
        self.matches = matches

    def measure(self, gun_images: np.ndarray, free_images: np.ndarray, fprs: Sequence[float]) -> dict[str, float]:
        """mAP@0.5 and the recall at each share of gun-free images flagged, on these images (repeats allowed)."""
        values = {"map50": ap50(self.matches, np.concatenate([gun_images, free_images]))
                  if self.matches is not None else float("nan")}
        for fpr in fprs:
            values[f"{fpr:g}"] = recall_at_fpr(self.tops[gun_images], self.tops[free_images], fpr)
        return values


def recall_at_fpr(gun_tops: np.ndarray, free_tops: np.ndarray, max_fpr: float) -> float:
    """``operating.image_recall_at_fpr`` from images' top scores: the share of gun images scoring above the
    highest gun-free score that the budget cannot let through (with k the most gun-free images allowed, the
    (k+1)-th highest). NaN without both kinds of image."""
    if not gun_tops.size or not free_tops.size:
        return float("nan")
    n_free = len(free_tops)
    # Counts compared exactly as the definition does (k / n <= max_fpr), as threshold_for_image_fpr does.
    allowed = int(np.count_nonzero(np.arange(n_free + 1) / n_free <= max_fpr)) - 1
    if allowed >= n_free:
        return float(np.mean(gun_tops > -np.inf))
    bar = np.sort(free_tops)[::-1][allowed]
    return float(np.mean(gun_tops > bar))


def _draws(has_gun: np.ndarray, draws: int, seed: int) -> list[tuple[np.ndarray, np.ndarray]]:
    if draws < 1:
        raise ValueError(f"draws must be >= 1, got {draws}")
    rng = np.random.default_rng(seed)
    guns, free = np.flatnonzero(has_gun), np.flatnonzero(~has_gun)
    return [(rng.choice(guns, len(guns)) if guns.size else guns, rng.choice(free, len(free)) if free.size else free)
            for _ in range(draws)]


def _interval(values: np.ndarray, confidence: float) -> Interval:
    values = values[~np.isnan(values)]
    if not values.size:
        return Interval(float("nan"), float("nan"))
    tail = 100 * (1 - confidence) / 2
    low, high = np.percentile(values, [tail, 100 - tail])
    return Interval(float(low), float(high))


def bootstrap(
    images: ImageSet,
    fprs: Sequence[float],
    draws: int = DRAWS,
    seed: int = 0,
    confidence: float = CONFIDENCE,
) -> dict[str, Interval]:
    """The 95 % interval of mAP@0.5 (key ``map50``) and of the recall at each of ``fprs`` (keys as
    ``EvalReport.image_recall_at_fpr``'s, e.g. "0.02") over ``draws`` stratified draws of the images."""
    measured = [images.measure(guns, free, fprs) for guns, free in _draws(images.has_gun, draws, seed)]
    return {key: _interval(np.array([m[key] for m in measured]), confidence) for key in measured[0]}


def recall_intervals(
    gun_tops: np.ndarray,
    free_tops: np.ndarray,
    fprs: Sequence[float],
    draws: int = DRAWS,
    seed: int = 0,
    confidence: float = CONFIDENCE,
) -> dict[str, Interval]:
    """``bootstrap``'s recall intervals from images' top scores alone (photos without boxes: no mAP)."""
    tops = np.concatenate([np.asarray(gun_tops, np.float64), np.asarray(free_tops, np.float64)])
    has_gun = np.arange(len(tops)) < len(gun_tops)
    drawn = [{f"{fpr:g}": recall_at_fpr(tops[guns], tops[free], fpr) for fpr in fprs}
             for guns, free in _draws(has_gun, draws, seed)]
    return {key: _interval(np.array([d[key] for d in drawn]), confidence) for key in drawn[0]}


def paired_bootstrap(
    first: ImageSet,
    second: ImageSet,
    fprs: Sequence[float],
    draws: int = DRAWS,
    seed: int = 0,
    confidence: float = CONFIDENCE,
) -> dict[str, Difference]:
    """``second`` minus ``first``, both measured on each of the same ``draws``: the interval of the difference
    and the share of draws in which ``second`` scored higher. The two must be predictions on the same images."""
    if not np.array_equal(first.has_gun, second.has_gun):
        raise ValueError("the two models were not measured on the same images")
    differences: dict[str, list[float]] = {}
    ahead: dict[str, list[bool]] = {}
    for guns, free in _draws(first.has_gun, draws, seed):
        a, b = first.measure(guns, free, fprs), second.measure(guns, free, fprs)
        for key in a:
            differences.setdefault(key, []).append(b[key] - a[key])
            ahead.setdefault(key, []).append(b[key] > a[key])
    return {key: Difference(_interval(np.array(values), confidence), float(np.mean(ahead[key])))
            for key, values in differences.items()}
