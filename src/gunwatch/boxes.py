"""Box geometry on xyxy pixel boxes, shared by the runtime (NMS, tiling) and the metrics."""

from __future__ import annotations

from typing import Any

import numpy as np


def as_boxes(boxes: Any) -> np.ndarray:
    """(N, 4) float64 xyxy; float64 so IoU arithmetic is exact enough for hand-checked tests."""
    return np.asarray(boxes, dtype=np.float64).reshape(-1, 4)


def box_area(boxes: np.ndarray) -> np.ndarray:
    # Clip so an inverted (x2 < x1) box has area 0 instead of a negative one.
    return np.clip(boxes[:, 2] - boxes[:, 0], 0, None) * np.clip(boxes[:, 3] - boxes[:, 1], 0, None)


def box_intersection(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Pairwise intersection areas, shape (N, M)."""
    top_left = np.maximum(a[:, None, :2], b[None, :, :2])
    bottom_right = np.minimum(a[:, None, 2:], b[None, :, 2:])
    wh = np.clip(bottom_right - top_left, 0, None)
    return wh[..., 0] * wh[..., 1]


def box_iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Pairwise IoU, shape (N, M), of xyxy boxes ``a`` (N, 4) and ``b`` (M, 4).

    Boxes touching only along an edge have IoU 0; a pair whose union is empty (two zero-area boxes)
    has IoU 0 rather than NaN.
    """
    a, b = as_boxes(a), as_boxes(b)
    inter = box_intersection(a, b)
    union = box_area(a)[:, None] + box_area(b)[None, :] - inter
    return np.divide(inter, union, out=np.zeros_like(inter), where=union > 0)


def box_ios(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Pairwise intersection over the smaller box's area, shape (N, M): 1 when one box contains the other."""
    a, b = as_boxes(a), as_boxes(b)
    inter = box_intersection(a, b)
    smaller = np.minimum(box_area(a)[:, None], box_area(b)[None, :])
    return np.divide(inter, smaller, out=np.zeros_like(inter), where=smaller > 0)
