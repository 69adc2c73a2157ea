"""Box IoU and the mean best IoU the course notebook reported."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from gunwatch.boxes import as_boxes, box_iou
from gunwatch.metrics._inputs import check_lengths

__all__ = ["best_iou_per_gt", "box_iou", "mean_best_iou"]


def best_iou_per_gt(gt: np.ndarray, pred: np.ndarray) -> np.ndarray:
    """For each ground-truth box, its highest IoU with any predicted box (0 when there are none)."""
    gt, pred = as_boxes(gt), as_boxes(pred)
    if not len(pred):
        return np.zeros(len(gt))
    return box_iou(gt, pred).max(axis=1)


def mean_best_iou(gt_per_image: Sequence[np.ndarray], pred_per_image: Sequence[np.ndarray]) -> float:
    """Mean over all ground-truth boxes of their best IoU with a prediction in the same image.

    A gun with no prediction in its image counts as 0, so misses pull the mean down; predictions on
    gun-free images do not enter at all (this is a localisation number, not a false-alarm one).
    NaN when there are no ground-truth boxes.

    This is what the course notebook's "mean IoU" meant to measure. Its ``compute_iou`` read the boxes'
    second corner (x2, y2) as a width and height, i.e. it scored (x1, y1, x1 + x2, y1 + y2), which
    inflates the boxes by their distance from the image origin and gives a different (wrong) number;
    here both boxes are xyxy corners throughout.
    """
    check_lengths(gt=gt_per_image, pred=pred_per_image)
    best = [best_iou_per_gt(gt, pred) for gt, pred in zip(gt_per_image, pred_per_image, strict=True)]
    values = np.concatenate(best) if best else np.zeros(0)
    return float(values.mean()) if values.size else float("nan")
