"""Gun paste: the pasted gun's box follows its pixels, decoys add no box, hidden boxes go; held guns go to a
person's hand, at a share of their height, grey in grey scenes."""

from __future__ import annotations

import numpy as np
import pytest

from gunwatch.training.detector_data import HANDGUN, PERSON, DetectorSample
from gunwatch.training.paste import (
    PasteBank,
    is_grey,
    paste_held_guns,
    paste_small_guns,
    visible_after,
)

RED = np.array([255, 0, 0], np.uint8)


def gun_sample() -> DetectorSample:
    """A red 'gun' 80 px wide on grey, labelled, and a person box elsewhere."""
    image = np.full((200, 300, 3), 128, np.uint8)
    image[60:120, 100:180] = RED
    return DetectorSample(image, np.array([[10, 10, 60, 190], [100, 60, 180, 120]], np.float32),
                          np.array([PERSON, HANDGUN]))


def gun_free_sample() -> DetectorSample:
    return DetectorSample(np.full((150, 150, 3), 40, np.uint8), np.zeros((0, 4), np.float32), np.zeros(0, np.int64))


def red_extent(image: np.ndarray) -> np.ndarray:
    mask = (image[..., 0] > 180) & (image[..., 1] < 90)
    ys, xs = np.nonzero(mask)
    return np.array([xs.min(), ys.min(), xs.max() + 1, ys.max() + 1], np.float32)


def test_bank_lists_every_gun_and_every_gun_free_image() -> None:
    bank = PasteBank.from_samples([gun_sample(), gun_free_sample(), gun_sample()])
    assert bank.guns == ((0, 1), (2, 1))
    assert bank.gun_free == (1,)


@pytest.mark.parametrize("seed", range(10))
def test_pasted_gun_box_follows_its_pixels(seed: int) -> None:
    samples = [gun_sample(), gun_free_sample()]
    canvas = np.full((256, 256, 3), 128, np.uint8)
    image, boxes, classes = paste_small_guns(
        canvas, np.zeros((0, 4), np.float32), np.zeros(0, np.int64), samples, PasteBank.from_samples(samples),
        (20, 40), np.random.default_rng(seed), guns=1, distractors=0,
    )
    assert classes.tolist() == [HANDGUN]
    width = boxes[0, 2] - boxes[0, 0]
    assert 20 - 1 <= width <= 40 + 1
    # The feathered edge blurs the red a pixel or two; the box still hugs it.
    np.testing.assert_allclose(boxes[0], red_extent(image), atol=3)


def test_decoys_add_no_box_and_a_box_hidden_by_a_patch_is_dropped() -> None:
    samples = [gun_sample(), gun_free_sample()]
    bank = PasteBank.from_samples(samples)
    canvas = np.full((64, 64, 3), 128, np.uint8)
    image, boxes, classes = paste_small_guns(
        canvas, np.zeros((0, 4), np.float32), np.zeros(0, np.int64), samples, bank, (20, 30),
        np.random.default_rng(0), guns=0, distractors=2,
    )
    assert len(boxes) == 0 and len(classes) == 0
    assert (image != 128).any()  # something was pasted
    tiny = np.array([[10, 10, 14, 14]], np.float32)
    assert not visible_after(tiny, [np.array([0, 0, 30, 30], np.float32)])[0]
    assert visible_after(tiny, [np.array([12, 12, 40, 40], np.float32)])[0]  # a quarter hidden: kept


PERSON_BOX = np.array([150, 50, 250, 350], np.float32)  # 300 px tall


def scene_with_a_person(colour: tuple[int, int, int]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    return np.full((400, 400, 3), colour, np.uint8), PERSON_BOX[None].copy(), np.array([PERSON])


@pytest.mark.parametrize("seed", range(10))
def test_a_held_gun_is_pasted_at_a_hand_at_its_share_of_the_height(seed: int) -> None:
    samples = [gun_sample(), gun_free_sample()]
    canvas, boxes, classes = scene_with_a_person((90, 120, 150))
    image, out_boxes, out_classes = paste_held_guns(canvas, boxes, classes, samples, PasteBank.from_samples(samples),
                                                    (0.1, 0.1), np.random.default_rng(seed))
    assert out_classes.tolist() == [PERSON, HANDGUN]
    np.testing.assert_array_equal(out_boxes[0], PERSON_BOX)  # the gun covers little of its holder: kept
    gun = out_boxes[1]
    assert abs((gun[2] - gun[0]) - 30) <= 1  # a tenth of 300 px
    centre_x, centre_y = (gun[0] + gun[2]) / 2, (gun[1] + gun[3]) / 2
    height = 300
    at_left = 150 - 0.25 * height - 1 <= centre_x <= 150 + 0.1 * height + 1
    at_right = 250 - 0.1 * height - 1 <= centre_x <= 250 + 0.25 * height + 1
    assert at_left or at_right
    assert 50 + 0.3 * height - 2 <= centre_y <= 50 + 0.6 * height + 2
    np.testing.assert_allclose(gun, red_extent(image), atol=3)


def test_a_grey_scene_gets_a_grey_gun() -> None:
    samples = [gun_sample(), gun_free_sample()]
    canvas, boxes, classes = scene_with_a_person((128, 128, 128))
    image, _, out_classes = paste_held_guns(canvas, boxes, classes, samples, PasteBank.from_samples(samples),
                                                    (0.1, 0.1), np.random.default_rng(0))
    assert out_classes.tolist() == [PERSON, HANDGUN]
    assert is_grey(image, tolerance=0.0) and (image != 128).any()
    assert not is_grey(scene_with_a_person((90, 120, 150))[0])


def test_without_a_person_tall_enough_nothing_is_pasted() -> None:
    samples = [gun_sample(), gun_free_sample()]
    canvas = np.full((400, 400, 3), 128, np.uint8)
    short = np.array([[10, 10, 30, 60]], np.float32)  # 50 px: a 7 % gun would be 3.5 px
    for boxes, classes in ((short, np.array([PERSON])), (np.zeros((0, 4), np.float32), np.zeros(0, np.int64))):
        image, out_boxes, out_classes = paste_held_guns(canvas, boxes, classes, samples,
                                                        PasteBank.from_samples(samples), (0.07, 0.15),
                                                        np.random.default_rng(0))
        assert image is canvas and out_boxes is boxes and out_classes is classes
