"""EXIF orientation: photos are read as shown, and boxes drawn on the stored pixels are turned with them."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from gunwatch.data.images import image_geometry, image_size, load_rgb
from gunwatch.data.orientation import TRANSPOSE_FOR, displayed_size, exif_orientation, stored_box_to_displayed
from support.turned_photos import picture_with_square, white_box, write_turned

ORIENTATIONS = list(range(1, 9))
SHOWN = picture_with_square(64, 40, (8, 4, 20, 12))  # wider than tall, the square near the top left


@pytest.mark.parametrize("orientation", ORIENTATIONS)
def test_a_turned_photo_is_read_as_shown(tmp_path: Path, orientation: int) -> None:
    path = write_turned(tmp_path / "photo.png", SHOWN, orientation)
    np.testing.assert_array_equal(load_rgb(path), SHOWN)
    assert image_size(path) == (64, 40) == image_size(path, verify=True)
    geometry = image_geometry(path)
    assert geometry.orientation == orientation
    assert geometry.stored_size == ((40, 64) if orientation >= 5 else (64, 40))


def test_a_phone_jpeg_held_upright_comes_out_upright(tmp_path: Path) -> None:
    # The common case: a portrait photo stored landscape, tagged 6 ("turn a quarter clockwise").
    portrait = picture_with_square(30, 60, (5, 40, 15, 55))
    path = write_turned(tmp_path / "phone.jpg", portrait, 6)
    with Image.open(path) as stored:
        assert stored.size == (60, 30)
    image = load_rgb(path)
    assert image.shape == (60, 30, 3)
    np.testing.assert_allclose(white_box(image), [5, 40, 15, 55], atol=1)


@pytest.mark.parametrize("orientation", ORIENTATIONS)
def test_a_box_on_the_stored_pixels_is_turned_with_them(orientation: int) -> None:
    stored = picture_with_square(50, 30, (30, 5, 45, 12))
    turned = Image.fromarray(stored)
    if orientation in TRANSPOSE_FOR:
        turned = turned.transpose(TRANSPOSE_FOR[orientation])
    shown = np.asarray(turned)
    assert (shown.shape[1], shown.shape[0]) == displayed_size((50, 30), orientation)
    assert stored_box_to_displayed([30, 5, 45, 12], (50, 30), orientation) == white_box(shown)


@pytest.mark.parametrize("value", [0, 9, 65535, None])
def test_a_meaningless_orientation_tag_leaves_the_pixels_as_stored(tmp_path: Path, value: object) -> None:
    image = Image.fromarray(SHOWN)
    exif = Image.Exif()
    if value is not None:
        exif[0x0112] = value
    path = tmp_path / "odd.png"
    image.save(path, exif=exif)
    with Image.open(path) as opened:
        assert exif_orientation(opened) == 1
    np.testing.assert_array_equal(load_rgb(path), SHOWN)
