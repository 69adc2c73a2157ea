"""The Fast R-CNN runtime's own arithmetic: input scaling and the decoding of probabilities and deltas."""

from __future__ import annotations

import numpy as np
import pytest

from gunwatch.inference.lineage.fast_rcnn import input_scale, postprocess, scale_image

STDS = (0.1, 0.1, 0.2, 0.2)


@pytest.mark.parametrize(
    ("height", "width", "expected"),
    [(300, 300, 384 / 300), (480, 640, 416 / 640), (640, 426, 416 / 640), (100, 1000, 416 / 1000)],
)
def test_the_shorter_side_goes_to_min_side_unless_the_longer_passes_max_side(height, width, expected) -> None:
    assert input_scale(height, width, 384, 416) == pytest.approx(expected)


def test_scale_image_rounds_the_size() -> None:
    assert scale_image(np.zeros((300, 451, 3), np.uint8), 0.5).shape == (150, 226, 3)


def test_deltas_move_the_proposal_and_boxes_come_back_in_image_pixels() -> None:
    rois = np.array([[10.0, 10.0, 30.0, 30.0], [40.0, 0.0, 80.0, 20.0]], np.float32)  # input pixels, scale 2
    probabilities = np.array([[0.2, 0.8], [0.9, 0.1]], np.float32)
    deltas = np.array([[1.0, 0.0, 0.0, 0.0], [0.0, 0.0, 0.0, 0.0]], np.float32)  # dx 1 x std 0.1 x width 20
    found = postprocess(probabilities, deltas, rois, 2.0, (100, 100, 3), STDS, 0.3, 100)
    np.testing.assert_allclose(found.xyxy, [[6.0, 5.0, 16.0, 15.0], [20.0, 0.0, 40.0, 10.0]], atol=1e-5)
    np.testing.assert_allclose(found.scores, [0.8, 0.1])
    assert found.class_ids.tolist() == [0, 0]  # handgun: the first class after background


def test_nms_keeps_the_best_of_overlapping_boxes_and_clips_to_the_image() -> None:
    rois = np.array([[0.0, 0.0, 20.0, 20.0], [1.0, 1.0, 21.0, 21.0], [30.0, 30.0, 60.0, 60.0]], np.float32)
    probabilities = np.array([[0.4, 0.6], [0.3, 0.7], [0.5, 0.5]], np.float32)
    found = postprocess(probabilities, np.zeros((3, 4), np.float32), rois, 1.0, (50, 50, 3), STDS, 0.3, 100)
    np.testing.assert_allclose(found.xyxy, [[1.0, 1.0, 21.0, 21.0], [30.0, 30.0, 50.0, 50.0]])
    np.testing.assert_allclose(found.scores, [0.7, 0.5])
    assert len(postprocess(probabilities, np.zeros((3, 4), np.float32), rois, 1.0, (50, 50, 3), STDS, 0.3, 1)) == 1
