"""Box IoU and the mean best IoU the course notebook reported."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from gunwatch.metrics._inputs import as_boxes, check_lengths


def _area(boxes: np.ndarray) -> np.ndarray:
    # Clip so an inverted (x2 < x1) box has area 0 instead of a negative one.
    return np.clip(boxes[:, 2] - boxes[:, 0], 0, None) * np.clip(boxes[:, 3] - boxes[:, 1], 0, None)


def box_iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Pairwise IoU, shape (N, M), of xyxy boxes ``a`` (N, 4) and ``b`` (M, 4).

    Boxes touching only along an edge have IoU 0; a pair whose union is empty (two zero-area boxes)
    has IoU 0 rather than NaN.
    """
    a, b = as_boxes(a), as_boxes(b)
    top_left = np.maximum(a[:, None, :2], b[None, :, :2])
    bottom_right = np.minimum(a[:, None, 2:], b[None, :, 2:])
    wh = np.clip(bottom_right - top_left, 0, None)
    inter = wh[..., 0] * wh[..., 1]
    union = _area(a)[:, None] + _area(b)[None, :] - inter
    return np.divide(inter, union, out=np.zeros_like(inter), where=union > 0)


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
