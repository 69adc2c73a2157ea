"""Greedy non-maximum suppression in numpy (no torchvision in the runtime)."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from gunwatch.boxes import as_boxes, box_iou

Overlap = Callable[[np.ndarray, np.ndarray], np.ndarray]  # (N, 4), (M, 4) xyxy -> (N, M)
# Rows of the overlap matrix computed at once, against the boxes still standing: memory is BLOCK x N
# floats, and a frame with thousands of low-score boxes (an untrained model, a tiled 4K frame) costs one
# vectorised row per kept box instead of a Python loop over pairs.
BLOCK = 256


def greedy_keep(boxes: np.ndarray, overlap: Overlap, threshold: float) -> np.ndarray:
    """Mask of boxes kept, for boxes already sorted best first: a box is dropped when its overlap with a
    kept, better box is strictly greater than `threshold`."""
    boxes = as_boxes(boxes)
    dropped = np.zeros(len(boxes), dtype=bool)
    for start in range(0, len(boxes), BLOCK):
        rows = start + np.flatnonzero(~dropped[start : start + BLOCK])
        if not rows.size:
            continue
        columns = start + np.flatnonzero(~dropped[start:])  # rows are among them, in the same order
        over = overlap(boxes[rows], boxes[columns]) > threshold
        for row, overlapped in zip(rows, over, strict=True):
            if not dropped[row]:
                dropped[columns[overlapped & (columns > row)]] = True
    return ~dropped


def nms(xyxy: np.ndarray, scores: np.ndarray, iou_threshold: float) -> np.ndarray:
    """Indices of the boxes kept, highest score first.

    A box is suppressed when its IoU with a kept, higher-scoring box is strictly greater than
    ``iou_threshold`` (as torchvision does); IoU exactly at the threshold keeps both.
    """
    boxes = as_boxes(xyxy)
    order = np.argsort(-np.asarray(scores, dtype=np.float64).reshape(-1), kind="stable")
    return order[greedy_keep(boxes[order], box_iou, iou_threshold)].astype(np.int64)


def class_separated(xyxy: np.ndarray, class_ids: np.ndarray) -> np.ndarray:
    """The boxes shifted so that boxes of different classes can never overlap (one pass does per-class work)."""
    boxes = as_boxes(xyxy)
    if not len(boxes):
        return boxes
    span = boxes.max() - min(boxes.min(), 0.0) + 1.0
    return boxes + np.asarray(class_ids, dtype=np.float64).reshape(-1, 1) * span


def batched_nms(xyxy: np.ndarray, scores: np.ndarray, class_ids: np.ndarray, iou_threshold: float) -> np.ndarray:
    """Class-aware NMS: boxes of different classes never suppress each other. Kept indices, best first."""
    boxes = as_boxes(xyxy)
    if not len(boxes):
        return np.zeros(0, dtype=np.int64)
    return nms(class_separated(boxes, class_ids), scores, iou_threshold)
