"""Letterbox and its inverse: boxes drawn on an image come back where they were."""

from __future__ import annotations

import numpy as np
import pytest

from gunwatch.inference.letterbox import PAD_VALUE, letterbox, unletterbox_boxes

SIZE = (416, 416)


def image_with_box(height: int, width: int, box: tuple[int, int, int, int]) -> np.ndarray:
    """Black image with a white rectangle covering pixels x1..x2-1, y1..y2-1 (xyxy, x2/y2 exclusive)."""
    image = np.zeros((height, width, 3), np.uint8)
    x1, y1, x2, y2 = box
    image[y1:y2, x1:x2] = 255
    return image


def bright_box(image: np.ndarray) -> np.ndarray:
    """xyxy of the pixels brighter than mid-grey (the pad, 114, is below it)."""
    ys, xs = np.nonzero(image[..., 0] > 128)
    return np.array([xs.min(), ys.min(), xs.max() + 1, ys.max() + 1], np.float32)


@pytest.mark.parametrize(
    ("height", "width", "box"),
    [
        (300, 200, (40, 60, 150, 250)),  # portrait, upscaled
        (200, 300, (10, 20, 290, 120)),  # landscape, upscaled
        (1000, 600, (100, 200, 500, 900)),  # portrait, downscaled
        (480, 640, (320, 100, 600, 470)),  # landscape, downscaled
    ],
)
def test_a_drawn_box_maps_back_to_where_it_was(height: int, width: int, box: tuple[int, int, int, int]) -> None:
    padded, scale = letterbox(image_with_box(height, width, box), SIZE)
    assert padded.shape == (*SIZE, 3)
    assert padded.dtype == np.uint8
    assert scale == pytest.approx(min(SIZE[0] / height, SIZE[1] / width))
    restored = unletterbox_boxes(bright_box(padded)[None], scale, (height, width, 3))[0]
    # Bilinear edges land within one letterboxed pixel, i.e. 1/scale original pixels when shrinking.
    tolerance = max(1.0, 1.0 / scale)
    np.testing.assert_allclose(restored, np.array(box, np.float32), atol=tolerance)


def test_portrait_pads_on_the_right_only() -> None:
    padded, scale = letterbox(np.full((300, 200, 3), 7, np.uint8), SIZE)
    content_width = round(200 * scale)
    assert content_width < SIZE[1]
    assert (padded[:, :content_width] == 7).all()  # top-left aligned, full height
    assert (padded[:, content_width:] == PAD_VALUE).all()


def test_landscape_pads_at_the_bottom_only() -> None:
    padded, scale = letterbox(np.full((200, 300, 3), 7, np.uint8), SIZE)
    content_height = round(200 * scale)
    assert content_height < SIZE[0]
    assert (padded[:content_height] == 7).all()
    assert (padded[content_height:] == PAD_VALUE).all()


def test_non_square_target_size() -> None:
    padded, scale = letterbox(np.zeros((100, 100, 3), np.uint8), (320, 640))
    assert padded.shape == (320, 640, 3)
    assert scale == pytest.approx(3.2)
    assert (padded[:, 320:] == PAD_VALUE).all()


def test_unletterbox_divides_by_scale_and_clips_to_the_image() -> None:
    boxes = np.array([[20, 40, 60, 80], [-10, -5, 500, 300]], np.float32)
    restored = unletterbox_boxes(boxes, 2.0, (100, 120, 3))
    np.testing.assert_allclose(restored, [[10, 20, 30, 40], [0, 0, 120, 100]])
    assert restored.dtype == np.float32


def test_unletterbox_of_no_boxes() -> None:
    assert unletterbox_boxes(np.zeros((0, 4)), 1.5, (10, 10, 3)).shape == (0, 4)
