"""Detector behaviour at one score threshold: box-level P/R/F1 and image-level alarm rates."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from gunwatch.metrics._inputs import as_boxes, as_pred, check_lengths
from gunwatch.metrics.iou import box_iou


@dataclass(frozen=True)
class OperatingPoint:
    """Counts and rates at one threshold; a ratio whose denominator is 0 is NaN.

    - ``precision`` = TP / (TP + FP): NaN when no prediction passes the threshold.
    - ``recall`` = TP / (TP + FN): NaN without ground-truth boxes.
    - ``f1`` = 2 TP / (2 TP + FP + FN), the harmonic mean of the two where both are defined; written
      this way it is 0 (not NaN) when guns exist but nothing was predicted. NaN only with neither.
    - ``image_recall``: share of gun images with at least one prediction passing the threshold
      (anywhere in the image: an alarm is raised per frame, not per box).
    - ``image_fpr``: share of gun-free images with at least one passing prediction.
    - ``fp_per_negative_image``: passing predictions on gun-free images per gun-free image.
    """

    precision: float
    recall: float
    f1: float
    image_recall: float
    image_fpr: float
    fp_per_negative_image: float
    true_positives: int
    false_positives: int
    false_negatives: int
    gun_images: int
    negative_images: int


def _ratio(numerator: float, denominator: float) -> float:
    return float(numerator) / denominator if denominator else float("nan")


def _match(gt: np.ndarray, boxes: np.ndarray, scores: np.ndarray, iou_threshold: float) -> np.ndarray:
    """Boolean per prediction: True for a true positive.

    COCO's rule: predictions are visited best score first and each claims the still-unclaimed gun it
    overlaps most, if that IoU >= ``iou_threshold``. A second box on a claimed gun is a false positive.
    """
    is_tp = np.zeros(len(scores), dtype=bool)
    if not len(gt) or not len(scores):
        return is_tp
    ious = box_iou(boxes, gt)
    claimed = np.zeros(len(gt), dtype=bool)
    for i in np.argsort(-scores, kind="stable"):
        candidates = np.where(claimed, -1.0, ious[i])
        j = int(np.argmax(candidates))
        if candidates[j] >= iou_threshold:
            claimed[j] = is_tp[i] = True
    return is_tp


def operating_point(
    gt_per_image: Sequence[np.ndarray],
    pred_per_image: Sequence[tuple[np.ndarray, np.ndarray]],
    threshold: float,
    iou_threshold: float = 0.5,
) -> OperatingPoint:
    """Box- and image-level metrics for predictions with ``score >= threshold``."""
    check_lengths(gt=gt_per_image, pred=pred_per_image)
    tp = fp = fn = gun_images = negatives = flagged_guns = flagged_negatives = negative_dets = 0
    for gt, pred in zip(gt_per_image, pred_per_image, strict=True):
        gt = as_boxes(gt)
        boxes, scores = as_pred(pred)
        keep = scores >= threshold
        hits = int(_match(gt, boxes[keep], scores[keep], iou_threshold).sum())
        passed = int(keep.sum())
        tp, fp, fn = tp + hits, fp + passed - hits, fn + len(gt) - hits
        if len(gt):
            gun_images, flagged_guns = gun_images + 1, flagged_guns + (passed > 0)
        else:
            negatives, flagged_negatives = negatives + 1, flagged_negatives + (passed > 0)
            negative_dets += passed
    return OperatingPoint(
        precision=_ratio(tp, tp + fp),
        recall=_ratio(tp, tp + fn),
        f1=_ratio(2 * tp, 2 * tp + fp + fn),
        image_recall=_ratio(flagged_guns, gun_images),
        image_fpr=_ratio(flagged_negatives, negatives),
        fp_per_negative_image=_ratio(negative_dets, negatives),
        true_positives=tp,
        false_positives=fp,
        false_negatives=fn,
        gun_images=gun_images,
        negative_images=negatives,
    )


def pr_curve(
    gt_per_image: Sequence[np.ndarray],
    pred_per_image: Sequence[tuple[np.ndarray, np.ndarray]],
    iou_threshold: float = 0.5,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(thresholds, precision, recall) at every distinct score, thresholds descending (recall rising).

    Entry k is what ``operating_point(..., threshold=thresholds[k])`` reports. One matching at the lowest
    threshold serves all of them: greedy matching visits scores high to low, so raising the threshold
    only drops the tail and never changes an earlier match. Recall is NaN without ground truth; all three
    arrays are empty without predictions.
    """
    check_lengths(gt=gt_per_image, pred=pred_per_image)
    all_scores, all_tp, n_gt = [], [], 0
    for gt, pred in zip(gt_per_image, pred_per_image, strict=True):
        gt = as_boxes(gt)
        boxes, scores = as_pred(pred)
        all_scores.append(scores)
        all_tp.append(_match(gt, boxes, scores, iou_threshold))
        n_gt += len(gt)
    scores = np.concatenate(all_scores) if all_scores else np.zeros(0)
    if not scores.size:
        return np.zeros(0), np.zeros(0), np.zeros(0)
    order = np.argsort(-scores, kind="stable")
    scores, is_tp = scores[order], np.concatenate(all_tp)[order]
    tp_cum, n_pred = np.cumsum(is_tp), np.arange(1, len(scores) + 1)
    # Tied scores pass a threshold together: report only the last position of each distinct score.
    last = np.r_[scores[1:] != scores[:-1], True]
    precision = tp_cum[last] / n_pred[last]
    recall = tp_cum[last] / n_gt if n_gt else np.full(int(last.sum()), np.nan)
    return scores[last], precision, recall


def threshold_for_image_fpr(
    pred_per_image: Sequence[tuple[np.ndarray, np.ndarray]],
    negatives_mask: Sequence[bool] | np.ndarray,
    max_fpr: float,
) -> float:
    """Lowest threshold at which at most ``max_fpr`` of the gun-free images raise an alarm.

    An image alarms when its highest score is >= the threshold. With k the largest count such that
    k / negatives <= max_fpr, the (k+1)-th highest per-image max score must stay below the threshold,
    so the answer is the next representable number above it (in the scores' own dtype, so that float32
    scores compare exactly). Returns 0.0 when the budget allows every gun-free image to alarm
    (scores are probabilities). Pick it on validation data, then report the test split at it.
    """
    mask = np.asarray(negatives_mask, dtype=bool).reshape(-1)
    check_lengths(pred=pred_per_image, negatives_mask=mask)
    if max_fpr < 0:
        raise ValueError(f"max_fpr must be >= 0, got {max_fpr}")
    n_negatives = int(mask.sum())
    if n_negatives == 0:
        raise ValueError("no gun-free images: the image false-positive rate is undefined")
    # Compare counts exactly as the definition does (count / negatives <= max_fpr), not via floor().
    allowed = int(np.count_nonzero(np.arange(n_negatives + 1) / n_negatives <= max_fpr)) - 1
    maxima = _negative_maxima(pred_per_image, mask)
    if allowed >= len(maxima):
        return 0.0
    must_stay_below = maxima[allowed]
    return float(np.nextafter(must_stay_below, np.array(np.inf, dtype=must_stay_below.dtype)))


def _negative_maxima(pred_per_image: Sequence[Any], mask: np.ndarray) -> list[np.floating]:
    """Per gun-free image with any prediction, its highest score (dtype kept), highest first."""
    scores = [as_pred(pred)[1] for pred, negative in zip(pred_per_image, mask, strict=True) if negative]
    return sorted((s.max() for s in scores if s.size), key=float, reverse=True)


def image_recall_at_fpr(
    gt_per_image: Sequence[np.ndarray],
    pred_per_image: Sequence[tuple[np.ndarray, np.ndarray]],
    max_fpr: float,
) -> float:
    """Share of gun images that alarm at the lowest threshold flagging at most ``max_fpr`` of the gun-free
    images of the same set: the ranking's answer to "how many guns at this false-alarm rate", free of any
    threshold chosen elsewhere (the issue's targets are stated so). NaN without gun images or without
    gun-free ones."""
    check_lengths(gt=gt_per_image, pred=pred_per_image)
    negatives = [len(as_boxes(gt)) == 0 for gt in gt_per_image]
    if all(negatives) or not any(negatives):
        return float("nan")
    threshold = threshold_for_image_fpr(pred_per_image, negatives, max_fpr)
    return operating_point(gt_per_image, pred_per_image, threshold).image_recall


def image_rates_curve(
    gt_per_image: Sequence[np.ndarray],
    pred_per_image: Sequence[tuple[np.ndarray, np.ndarray]],
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(thresholds, gun-free images flagged, gun images flagged) at every distinct top score of an image,
    thresholds descending: entry k is the image_fpr and image_recall of ``operating_point`` at
    ``thresholds[k]``. Rates are NaN where the set has no image of that kind; empty without predictions."""
    check_lengths(gt=gt_per_image, pred=pred_per_image)
    has_gun = np.array([len(as_boxes(gt)) > 0 for gt in gt_per_image], dtype=bool)
    tops = [as_pred(pred)[1] for pred in pred_per_image]
    flags = np.array([s.size > 0 for s in tops], dtype=bool)
    maxima = np.array([float(s.max()) for s in tops if s.size], dtype=np.float64)
    if not maxima.size:
        return np.zeros(0), np.zeros(0), np.zeros(0)
    thresholds = np.unique(maxima)[::-1]
    gun_tops, free_tops = maxima[has_gun[flags]], maxima[~has_gun[flags]]
    n_guns, n_free = int(has_gun.sum()), int((~has_gun).sum())
    recall = _count_at_or_above(gun_tops, thresholds) / n_guns if n_guns else np.full(len(thresholds), np.nan)
    fpr = _count_at_or_above(free_tops, thresholds) / n_free if n_free else np.full(len(thresholds), np.nan)
    return thresholds, fpr, recall


def _count_at_or_above(tops: np.ndarray, thresholds: np.ndarray) -> np.ndarray:
    """How many images alarm at each threshold: those whose top score is at least it."""
    return len(tops) - np.searchsorted(np.sort(tops), thresholds, side="left")
