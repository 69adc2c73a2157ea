"""R-CNN's runtime pieces: context padding and warping, exact on constructed images."""

from __future__ import annotations

import numpy as np

from gunwatch.inference.lineage.rcnn import FILL, PAPER_CONTEXT, context_box, warp_regions


def test_context_box_leaves_pad_pixels_around_the_box_at_the_warp_size():
    # warped to 20 px with 5 px of context, the box fills the middle 10 px: the padded box is twice as big
    np.testing.assert_allclose(context_box([[10, 20, 30, 60]], 20, 5), [[0, 0, 40, 80]])
    np.testing.assert_allclose(context_box([[10, 20, 30, 60]], 20, 0), [[10, 20, 30, 60]])
    assert round(PAPER_CONTEXT * 227) == 16


def test_warp_keeps_the_box_in_the_middle_and_fills_outside_with_the_mean_pixel():
    image = np.zeros((40, 40, 3), np.uint8)
    image[10:30, 10:30] = 255  # a white 20 x 20 square
    crop = warp_regions(image, np.array([[10, 10, 30, 30]], np.float32), 20, 5)[0]  # padded to 0..40: all of it
    assert crop.shape == (20, 20, 3)
    assert (crop[5:15, 5:15] == 255).all() and (crop[:5] == 0).all() and (crop[:, 15:] == 0).all()
    corner = warp_regions(image, np.array([[0, 0, 20, 20]], np.float32), 20, 5)[0]  # padded to -10..30
    assert (corner[:5, :5] == FILL).all()  # outside the image: ImageNet's mean pixel
    assert (corner[:5, 5:] == FILL).all() and (corner[5:, :5] == FILL).all()
    assert (corner[10:, 10:] == 255).all() and (corner[5:10, 5:10] == 0).all()


def test_warp_stretches_any_box_to_the_square_and_survives_a_box_off_the_image():
    image = np.random.default_rng(0).integers(0, 255, (30, 50, 3), dtype=np.uint8)
    crops = warp_regions(image, np.array([[0, 0, 50, 10], [5, 5, 6, 25], [100, 100, 120, 120]]), 16, 0)
    assert crops.shape == (3, 16, 16, 3) and crops.dtype == np.uint8
    assert (crops[2] == FILL).all()
