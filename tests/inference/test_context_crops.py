from __future__ import annotations

import numpy as np

from gunwatch.inference.context_crops import PAD_VALUE, context_squares, cut_context_crops, cut_square


def test_squares_are_centred_on_the_box_and_context_times_its_longer_side() -> None:
    squares = context_squares(np.array([[10, 20, 30, 60], [0, 0, 50, 10]]), 2.0)
    assert squares.tolist() == [[-20, 0, 60, 80], [-25, -45, 75, 55]]


def test_a_tiny_box_is_widened_before_the_context() -> None:
    (square,) = context_squares(np.array([[100, 100, 102, 101]]), 1.5)
    assert square[2] - square[0] == square[3] - square[1] == 12  # 8 px minimum x 1.5


def test_a_square_inside_the_image_is_cut_exactly() -> None:
    image = np.random.default_rng(0).integers(0, 255, (50, 60, 3), dtype=np.uint8)
    crop = cut_square(image, np.array([5, 7, 25, 27]), 20)  # same size: no resampling
    assert np.array_equal(crop, image[7:27, 5:25])


def test_beyond_the_edge_is_letterbox_grey_and_the_inside_stays_in_place() -> None:
    image = np.zeros((40, 40, 3), np.uint8)
    image[:10, :10] = 255
    crop = cut_square(image, np.array([-10, -10, 10, 10]), 20)
    assert (crop[:10] == PAD_VALUE).all() and (crop[:, :10] == PAD_VALUE).all()
    assert (crop[10:, 10:] == 255).all()


def test_crops_come_out_at_the_requested_side_in_box_order() -> None:
    image = np.zeros((100, 100, 3), np.uint8)
    image[:50] = (255, 0, 0)
    image[50:] = (0, 0, 255)
    crops = cut_context_crops(image, np.array([[40, 10, 60, 30], [40, 70, 60, 90]]), 1.5, 16)
    assert crops.shape == (2, 16, 16, 3)
    assert crops[0, ..., 0].mean() > 200 and crops[1, ..., 2].mean() > 200
    assert cut_context_crops(image, np.zeros((0, 4)), 1.5, 16).shape == (0, 16, 16, 3)
