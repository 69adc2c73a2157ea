"""Augmentation: boxes follow the pixels through every geometric step; camera effects keep the frame's shape."""

from __future__ import annotations

import numpy as np
import pytest

from gunwatch.data.images import shrink_to
from gunwatch.training.augment import (
    AugmentSettings,
    camera_effects,
    hflip,
    keep_visible,
    mosaic,
    motion_blur,
    person_crop,
    quarter_turn,
    single_image,
    training_image,
)
from gunwatch.training.detector_data import DetectorSample

RED = np.array([255, 0, 0], np.uint8)
NO_CAMERA = dict(color=0, grey=0, low_light=0, blur=0, motion_blur=0, jpeg=0)


def red_square_sample(width: int, height: int, box: tuple[int, int, int, int]) -> DetectorSample:
    image = np.full((height, width, 3), 128, np.uint8)
    x1, y1, x2, y2 = box
    image[y1:y2, x1:x2] = RED
    return DetectorSample(image, np.array([box], np.float32), np.array([1]))


def red_extent(image: np.ndarray) -> np.ndarray:
    """Bounding box of clearly red pixels (resizing blends the edges)."""
    mask = (image[..., 0] > 200) & (image[..., 1] < 60)
    ys, xs = np.nonzero(mask)
    return np.array([xs.min(), ys.min(), xs.max() + 1, ys.max() + 1], np.float32)


@pytest.mark.parametrize("seed", range(12))
def test_single_image_boxes_follow_the_pixels(seed: int) -> None:
    sample = red_square_sample(300, 200, (120, 60, 200, 120))
    settings = AugmentSettings(mosaic=0, hflip=0.5, **NO_CAMERA)
    image, boxes, classes = training_image([sample], 0, 128, settings, np.random.default_rng(seed))
    assert image.shape == (128, 128, 3) and image.dtype == np.uint8
    if len(boxes):  # the square may be pushed out of the frame when zoomed in
        assert classes.tolist() == [1]
        np.testing.assert_allclose(boxes[0], red_extent(image), atol=2.5)


def test_mosaic_boxes_follow_the_pixels() -> None:
    samples = [red_square_sample(200, 160, (80, 50, 130, 110))] + [
        DetectorSample(np.full((150, 150, 3), 128, np.uint8), np.zeros((0, 4), np.float32), np.zeros(0, np.int64))
    ] * 3
    labelled = 0
    for seed in range(16):
        image, boxes, _ = mosaic(samples, 160, AugmentSettings(), np.random.default_rng(seed))
        assert image.shape == (160, 160, 3)
        if len(boxes):  # a square mostly cropped away is dropped
            labelled += 1
            np.testing.assert_allclose(boxes[0], red_extent(image), atol=2.5)
    assert labelled >= 8


def test_hflip_mirrors_boxes() -> None:
    image = np.zeros((10, 20, 3), np.uint8)
    _, boxes = hflip(image, np.array([[2, 1, 5, 4]], np.float32))
    assert boxes.tolist() == [[15, 1, 18, 4]]


@pytest.mark.parametrize("turns", [0, 1, 2, 3])
def test_a_quarter_turn_takes_the_boxes_with_the_pixels(turns: int) -> None:
    sample = red_square_sample(40, 30, (25, 4, 37, 10))  # not square, off centre: every turn moves it elsewhere
    image, boxes = quarter_turn(sample.image, sample.boxes, turns)
    assert image.shape == ((30, 40, 3) if turns % 2 == 0 else (40, 30, 3))
    np.testing.assert_array_equal(boxes[0], red_extent(image))
    assert quarter_turn(sample.image, np.zeros((0, 4), np.float32), turns)[1].shape == (0, 4)


@pytest.mark.parametrize("seed", range(8))
def test_turned_training_images_keep_their_boxes_on_the_pixels(seed: int) -> None:
    sample = red_square_sample(300, 200, (120, 60, 200, 120))
    settings = AugmentSettings(mosaic=0, hflip=0.5, quarter_turns=1.0, **NO_CAMERA)
    image, boxes, _ = training_image([sample], 0, 128, settings, np.random.default_rng(seed))
    if len(boxes):
        np.testing.assert_allclose(boxes[0], red_extent(image), atol=2.5)


def test_keep_visible_clips_and_drops_boxes_mostly_outside() -> None:
    boxes = np.array([[-10, 0, 10, 10], [-18, 0, 2, 10], [5, 5, 6, 6]], np.float32)
    kept, classes = keep_visible(boxes, np.array([0, 1, 1]), 100, 100, min_visible=0.4)
    assert kept.tolist() == [[0, 0, 10, 10]]  # half inside: kept, clipped; 10 % inside: dropped; 1 px: dropped
    assert classes.tolist() == [0]


def test_camera_effects_keep_shape_and_repeat_with_the_seed() -> None:
    image = np.random.default_rng(0).integers(0, 255, (64, 80, 3), dtype=np.uint8)
    everything = AugmentSettings(color=1, grey=1, low_light=1, blur=1, motion_blur=1, jpeg=1)
    first = camera_effects(image, everything, np.random.default_rng(3))
    again = camera_effects(image, everything, np.random.default_rng(3))
    assert first.shape == image.shape and first.dtype == np.uint8
    np.testing.assert_array_equal(first, again)
    assert not np.array_equal(first, image)
    grey = camera_effects(image, AugmentSettings(**{**NO_CAMERA, "grey": 1}), np.random.default_rng(0))
    assert (grey[..., 0] == grey[..., 1]).all() and (grey[..., 1] == grey[..., 2]).all()


def test_motion_blur_smears_along_its_direction_only() -> None:
    image = np.zeros((9, 9, 3), np.uint8)
    image[4, 4] = 255
    smeared = motion_blur(image, 3, 0)  # horizontal
    assert (smeared[4, 3:6, 0] > 0).all() and smeared[3, 4, 0] == 0 and smeared[5, 4, 0] == 0


def test_shrink_never_upscales() -> None:
    small = np.zeros((100, 50, 3), np.uint8)
    assert shrink_to(small, 512)[1] == 1.0
    big, scale = shrink_to(np.zeros((1000, 500, 3), np.uint8), 500)
    assert big.shape == (500, 250, 3) and scale == 0.5


def test_single_image_zoom_out_makes_small_objects() -> None:
    sample = red_square_sample(400, 400, (100, 100, 300, 300))
    settings = AugmentSettings(mosaic=0, hflip=0, scale=(0.25, 0.25), **NO_CAMERA)
    _, boxes, _ = single_image(sample, 416, settings, np.random.default_rng(0))
    assert boxes[0, 2] - boxes[0, 0] == pytest.approx(52, abs=1)  # 200 px x (0.25 x 416 / 400)


def held_gun_sample() -> DetectorSample:
    """A 600 px scene with a 300 px tall person (class 0, not painted) holding a red 30 x 12 px gun."""
    image = np.full((400, 600, 3), 128, np.uint8)
    image[200:212, 330:360] = RED
    boxes = np.array([[250, 50, 320, 350], [330, 200, 360, 212]], np.float32)
    return DetectorSample(image, boxes, np.array([0, 1]))


def test_person_crop_zooms_the_held_gun_to_the_drawn_size_and_boxes_follow() -> None:
    """Crops land anywhere on the reach box, as the second look's crops tile it: some hold the gun, some not."""
    settings = AugmentSettings(person_crops=1.0, person_crop_gun_px=(40, 80), **NO_CAMERA)
    whole = 0
    for seed in range(40):
        image, boxes, classes = person_crop(held_gun_sample(), 128, settings, np.random.default_rng(seed))
        assert image.shape == (128, 128, 3)
        guns = boxes[classes == 1]
        if not len(guns) or guns[0, 0] <= 0 or guns[0, 2] >= 128:
            continue
        whole += 1
        # The gun is a tenth of the person's height, so that length (30 px here) comes out 40-80 input px.
        assert 40 * 0.95 <= guns[0, 2] - guns[0, 0] <= 80 * 1.05
        np.testing.assert_allclose(guns[0], red_extent(image), atol=2.5)
    assert whole >= 5


def test_a_person_crop_captured_from_afar_keeps_its_boxes_and_loses_its_detail() -> None:
    """The same crop (same seed), once as sharp as the photo, once as a camera that saw the gun 8 px wide."""
    sharp_settings = AugmentSettings(person_crops=1.0, person_crop_gun_px=(60, 60), **NO_CAMERA)
    far_settings = AugmentSettings(person_crops=1.0, person_crop_gun_px=(60, 60), person_crop_capture_px=(8, 8),
                                   **NO_CAMERA)
    compared = 0
    for seed in range(10):
        sharp, sharp_boxes, _ = person_crop(held_gun_sample(), 128, sharp_settings, np.random.default_rng(seed))
        far, far_boxes, _ = person_crop(held_gun_sample(), 128, far_settings, np.random.default_rng(seed))
        assert far.shape == sharp.shape == (128, 128, 3)
        np.testing.assert_array_equal(far_boxes, sharp_boxes)
        # Detail is what differs between neighbouring pixels: enlarged from 8 / 60 of the size, little is left.
        detail = lambda image: np.abs(np.diff(image.astype(int), axis=1)).max()  # noqa: E731
        if detail(sharp) > 50:  # the red gun's edges are in this crop
            assert detail(far) < detail(sharp) / 2
            compared += 1
    assert compared >= 3


def test_person_crop_needs_a_person() -> None:
    sample = red_square_sample(300, 200, (120, 60, 200, 120))
    assert person_crop(sample, 128, AugmentSettings(person_crops=1.0), np.random.default_rng(0)) is None
