"""Greedy non-maximum suppression in numpy (no torchvision in the runtime)."""

from __future__ import annotations

import numpy as np

from gunwatch.boxes import box_iou


def nms(xyxy: np.ndarray, scores: np.ndarray, iou_threshold: float) -> np.ndarray:
    """Indices of the boxes kept, highest score first.

    A box is suppressed when its IoU with a kept, higher-scoring box is strictly greater than
    ``iou_threshold`` (as torchvision does); IoU exactly at the threshold keeps both.
    """
    boxes = np.asarray(xyxy, dtype=np.float64).reshape(-1, 4)
    order = np.argsort(-np.asarray(scores, dtype=np.float64).reshape(-1), kind="stable")
    keep: list[int] = []
    while order.size:
        best, rest = order[0], order[1:]
        keep.append(int(best))
        overlaps = box_iou(boxes[best : best + 1], boxes[rest])[0]
        order = rest[overlaps <= iou_threshold]
    return np.array(keep, dtype=np.int64)


def batched_nms(xyxy: np.ndarray, scores: np.ndarray, class_ids: np.ndarray, iou_threshold: float) -> np.ndarray:
    """Class-aware NMS: boxes of different classes never suppress each other. Kept indices, best first."""
    boxes = np.asarray(xyxy, dtype=np.float64).reshape(-1, 4)
    if not len(boxes):
        return np.zeros(0, dtype=np.int64)
    # Shift each class into its own region of the plane so cross-class boxes cannot overlap;
    # one NMS pass then does the work of a per-class loop.
    span = boxes.max() - min(boxes.min(), 0.0) + 1.0
    offsets = np.asarray(class_ids, dtype=np.float64).reshape(-1, 1) * span
    return nms(boxes + offsets, scores, iou_threshold)
