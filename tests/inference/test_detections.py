"""Detections: parallel arrays, validated and normalised to fixed shapes and dtypes."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from gunwatch.inference.detections import Detections


def three() -> Detections:
    return Detections(
        [[0, 0, 10, 10], [5, 5, 20, 20], [1, 2, 3, 4]],
        [0.9, 0.5, 0.2],
        [0, 1, 0],
    )


def test_empty_by_default() -> None:
    empty = Detections()
    assert len(empty) == 0
    assert (empty.xyxy.shape, empty.scores.shape, empty.class_ids.shape) == ((0, 4), (0,), (0,))
    assert (empty.xyxy.dtype, empty.scores.dtype, empty.class_ids.dtype) == (np.float32, np.float32, np.int64)


def test_inputs_are_normalised_to_shapes_and_dtypes() -> None:
    detections = Detections(np.arange(8, dtype=np.float64), np.array([[0.5], [0.25]]), [1.0, 0.0])
    assert (detections.xyxy.dtype, detections.scores.dtype, detections.class_ids.dtype) == (
        np.float32,
        np.float32,
        np.int64,
    )
    np.testing.assert_array_equal(detections.xyxy, [[0, 1, 2, 3], [4, 5, 6, 7]])
    np.testing.assert_array_equal(detections.scores, [0.5, 0.25])
    np.testing.assert_array_equal(detections.class_ids, [1, 0])
    assert len(detections) == 2


@pytest.mark.parametrize(
    ("xyxy", "scores", "class_ids", "message"),
    [
        ([[0, 0, 1, 1]], [0.5, 0.4], [0, 0], "1 boxes, 2 scores, 2 class ids"),
        ([[0, 0, 1, 1], [0, 0, 2, 2]], [0.5, 0.4], [0], "2 boxes, 2 scores, 1 class ids"),
        (np.zeros((0, 4)), [0.5], [0], "0 boxes, 1 scores, 1 class ids"),
    ],
)
def test_length_mismatch_is_an_error(xyxy, scores, class_ids, message: str) -> None:
    with pytest.raises(ValueError, match=f"Detections: {message}"):
        Detections(xyxy, scores, class_ids)


def test_box_coordinates_not_a_multiple_of_four_are_an_error() -> None:
    with pytest.raises(ValueError):
        Detections([0, 0, 1], [0.5], [0])


def test_frozen() -> None:
    with pytest.raises(dataclasses.FrozenInstanceError):
        three().scores = np.zeros(3)  # type: ignore[misc]


@pytest.mark.parametrize(
    ("select", "expected_scores", "expected_boxes"),
    [
        (lambda d: d[np.array([True, False, True])], [0.9, 0.2], [[0, 0, 10, 10], [1, 2, 3, 4]]),
        (lambda d: d[1:], [0.5, 0.2], [[5, 5, 20, 20], [1, 2, 3, 4]]),
        (lambda d: d.of_class(0), [0.9, 0.2], [[0, 0, 10, 10], [1, 2, 3, 4]]),
        (lambda d: d.of_class(1), [0.5], [[5, 5, 20, 20]]),
        (lambda d: d.of_class(7), [], np.zeros((0, 4))),
        (lambda d: d.above(0.5), [0.9, 0.5], [[0, 0, 10, 10], [5, 5, 20, 20]]),  # the threshold itself passes
        (lambda d: d.above(0.50001), [0.9], [[0, 0, 10, 10]]),
        (lambda d: d.above(0.0), [0.9, 0.5, 0.2], [[0, 0, 10, 10], [5, 5, 20, 20], [1, 2, 3, 4]]),
        (lambda d: d.above(0.95), [], np.zeros((0, 4))),
    ],
)
def test_masks_keep_the_arrays_parallel(select, expected_scores, expected_boxes) -> None:
    picked = select(three())
    assert isinstance(picked, Detections)
    np.testing.assert_array_equal(picked.scores, np.array(expected_scores, np.float32))
    np.testing.assert_array_equal(picked.xyxy, np.array(expected_boxes, np.float32).reshape(-1, 4))
    assert len(picked.class_ids) == len(picked) == len(expected_scores)


def test_above_compares_in_float32() -> None:
    # 0.7 is not exact in float32: a float32 0.7 score must pass a 0.7 threshold.
    detections = Detections([[0, 0, 1, 1]], np.array([0.7], np.float32), [0])
    assert len(detections.above(0.7)) == 1
