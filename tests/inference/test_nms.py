"""Greedy NMS and its class-aware form on hand-built boxes, and the blocked greedy pass against the plain rule."""

from __future__ import annotations

import numpy as np
import pytest

from gunwatch.boxes import box_ios, box_iou
from gunwatch.inference.nms import BLOCK, batched_nms, greedy_keep, nms

BOX = [0, 0, 10, 10]
SHIFTED = [1, 0, 11, 10]  # IoU with BOX = 90 / 110 = 0.82
FAR = [50, 50, 60, 60]


def test_two_overlapping_boxes_keep_the_higher_score() -> None:
    keep = nms(np.array([BOX, SHIFTED], np.float32), np.array([0.6, 0.9]), 0.45)
    assert keep.tolist() == [1]


def test_disjoint_boxes_are_all_kept_best_first() -> None:
    keep = nms(np.array([BOX, FAR, SHIFTED]), np.array([0.5, 0.8, 0.7]), 0.45)
    assert keep.tolist() == [1, 2]  # FAR first (0.8), SHIFTED beats BOX (0.7 > 0.5)


def test_iou_exactly_at_the_threshold_keeps_both() -> None:
    # IoU of these two is exactly 0.5; suppression needs IoU strictly above the threshold.
    boxes = np.array([[0, 0, 10, 10], [0, 0, 10, 5]])
    scores = np.array([0.9, 0.8])
    assert nms(boxes, scores, 0.5).tolist() == [0, 1]
    assert nms(boxes, scores, 0.49).tolist() == [0]


def test_a_suppressed_box_suppresses_nothing() -> None:
    # B overlaps A and C; A removes B, and C (not overlapping A enough) survives.
    boxes = np.array([[0, 0, 10, 10], [5, 0, 15, 10], [10, 0, 20, 10]])
    assert nms(boxes, np.array([0.9, 0.8, 0.7]), 0.3).tolist() == [0, 2]


def test_empty_input() -> None:
    assert nms(np.zeros((0, 4)), np.zeros(0), 0.5).shape == (0,)
    keep = batched_nms(np.zeros((0, 4)), np.zeros(0), np.zeros(0, np.int64), 0.5)
    assert keep.shape == (0,)
    assert keep.dtype == np.int64


def test_same_boxes_of_different_classes_are_both_kept() -> None:
    boxes = np.array([BOX, BOX], np.float32)
    keep = batched_nms(boxes, np.array([0.9, 0.8]), np.array([0, 1]), 0.45)
    assert sorted(keep.tolist()) == [0, 1]


def test_batched_nms_suppresses_within_each_class() -> None:
    boxes = np.array([BOX, SHIFTED, BOX, SHIFTED, FAR], np.float32)
    scores = np.array([0.9, 0.8, 0.3, 0.7, 0.5])
    class_ids = np.array([0, 0, 1, 1, 0])
    keep = batched_nms(boxes, scores, class_ids, 0.45)
    assert keep.tolist() == [0, 3, 4]  # best per overlapping group and class, highest score first


def test_batched_nms_with_negative_coordinates() -> None:
    boxes = np.array([[-20, -20, -10, -10], [-19, -20, -9, -10], [-20, -20, -10, -10]])
    keep = batched_nms(boxes, np.array([0.9, 0.8, 0.7]), np.array([2, 2, 5]), 0.45)
    assert keep.tolist() == [0, 2]


def one_box_at_a_time(boxes: np.ndarray, overlap, threshold: float) -> list[int]:
    """The rule as written: a box survives unless a kept, better box overlaps it more than `threshold`."""
    kept: list[int] = []
    for i in range(len(boxes)):
        if not kept or overlap(boxes[i : i + 1], boxes[kept]).max() <= threshold:
            kept.append(i)
    return kept


@pytest.mark.parametrize("overlap", [box_iou, box_ios])
def test_blocks_keep_what_one_box_at_a_time_keeps(overlap) -> None:
    # More boxes than a block, crowded so suppressions cross block boundaries, with exact ties in score.
    rng = np.random.default_rng(7)
    corners = rng.uniform(0, 200, (3 * BLOCK + 17, 2))
    boxes = np.hstack([corners, corners + rng.uniform(5, 60, corners.shape)])
    assert greedy_keep(boxes, overlap, 0.45).nonzero()[0].tolist() == one_box_at_a_time(boxes, overlap, 0.45)
    scores = rng.integers(0, 50, len(boxes)) / 50
    order = np.argsort(-scores, kind="stable")
    assert nms(boxes, scores, 0.45).tolist() == order[one_box_at_a_time(boxes[order], box_iou, 0.45)].tolist()
