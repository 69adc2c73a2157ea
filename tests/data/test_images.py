"""Image decoding: the size the header declares is checked before a pixel is decoded."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from gunwatch.data.images import (
    MAX_IMAGE_PIXELS,
    MAX_IMAGE_SIDE,
    ImageDecodeError,
    ImageTooLarge,
    blend,
    feather_mask,
    image_size,
    images_under,
    load_rgb,
)
from support.hostile_images import blank_png


def test_the_hostile_png_is_a_real_png(tmp_path: Path) -> None:
    image = load_rgb(blank_png(tmp_path / "small.png", 70, 9))
    assert image.shape == (9, 70, 3) and image.dtype == np.uint8 and not image.any()


@pytest.mark.parametrize(
    ("width", "height"),
    [(640, 130_000), (20_000, 20_000), (MAX_IMAGE_SIDE + 1, 16), (8_001, 8_001)],
    ids=["a strip of 238 MiB", "400 Mpx, past Pillow's own limit", "one side too long", "too many pixels"],
)
def test_an_image_over_the_caps_is_refused_before_decoding(tmp_path: Path, width: int, height: int) -> None:
    path = blank_png(tmp_path / "hostile.png", width, height)
    assert path.stat().st_size < 100_000  # small on disk: the size is all in the header
    with pytest.raises(ImageTooLarge) as caught:
        load_rgb(path)
    assert str(path) in str(caught.value)
    with pytest.raises(ImageDecodeError):  # the data set check (verify) refuses it the same way
        image_size(path, verify=True)


def test_the_caps_let_large_real_images_through_and_can_be_lowered(tmp_path: Path) -> None:
    assert MAX_IMAGE_PIXELS >= 9504 * 6336 and MAX_IMAGE_SIDE >= 9504  # a 61-Mpx photograph
    path = tmp_path / "photo.png"
    Image.new("RGB", (300, 200), (10, 20, 30)).save(path)
    assert load_rgb(path).shape == (200, 300, 3)
    with pytest.raises(ImageTooLarge, match=r"300x200 px is larger than gunwatch decodes"):
        load_rgb(path, max_pixels=50_000)
    with pytest.raises(ImageTooLarge):
        load_rgb(path, max_side=250)


def test_the_size_alone_is_read_from_the_header_without_a_cap(tmp_path: Path) -> None:
    # Listing a data set reads sizes only: a tall image reports its size; Pillow's bomb limit is a clear error.
    assert image_size(blank_png(tmp_path / "tall.png", 640, 130_000)) == (640, 130_000)
    with pytest.raises(ImageTooLarge, match=r"huge\.png"):
        image_size(blank_png(tmp_path / "huge.png", 20_000, 20_000))


def test_feather_mask_is_opaque_inside_and_fades_at_every_edge() -> None:
    alpha = feather_mask(20, 40)[..., 0]
    assert alpha[10, 20] == 1.0
    for edge in (alpha[0], alpha[-1], alpha[:, 0], alpha[:, -1]):
        assert edge.max() < 0.5
    assert np.all(np.diff(alpha[10, :20]) >= 0)  # rises towards the middle


def test_blend_keeps_the_canvas_outside_the_patch() -> None:
    canvas = np.zeros((50, 50, 3), np.uint8)
    blend(canvas, np.full((10, 10, 3), 200, np.uint8), 5, 5)
    assert canvas[:5].max() == 0 and canvas[:, :5].max() == 0 and canvas[15:].max() == 0
    assert canvas[10, 10, 0] == 200


@pytest.mark.parametrize(("suffix", "dtype"), [(".png", np.uint16), (".tif", np.int32)])
def test_a_16_bit_grey_image_keeps_its_shades(tmp_path: Path, suffix: str, dtype: type) -> None:
    # Pillow's own conversion clips 16-bit values at 255: a thermal camera's PNG would come out white.
    ramp = np.linspace(0, 65535, 64 * 16).reshape(16, 64).astype(dtype)
    path = tmp_path / f"thermal{suffix}"
    Image.fromarray(ramp).save(path)
    with Image.open(path) as stored:
        assert stored.mode in ("I;16", "I")
    image = load_rgb(path)
    assert image.shape == (16, 64, 3) and image.dtype == np.uint8
    np.testing.assert_allclose(image[..., 0], ramp / 257, atol=1)
    assert (image[..., 0] == image[..., 2]).all()


def test_an_8_bit_image_in_32_bit_mode_is_not_darkened(tmp_path: Path) -> None:
    shades = np.arange(256, dtype=np.int32).reshape(16, 16)
    path = tmp_path / "grey.tif"
    Image.fromarray(shades).save(path)
    np.testing.assert_array_equal(load_rgb(path)[..., 1], shades)


def test_an_iphone_heic_photo_and_an_avif_are_read(tmp_path: Path) -> None:
    import pillow_heif

    from support.turned_photos import picture_with_square, white_box

    picture = picture_with_square(64, 48, (8, 8, 40, 32))
    pillow_heif.register_heif_opener()  # to write one; gunwatch registers it itself to read
    for name in ("phone.heic", "web.avif"):
        Image.fromarray(picture).save(tmp_path / name, quality=95)
        image = load_rgb(tmp_path / name)
        assert image.shape == (48, 64, 3)
        np.testing.assert_allclose(white_box(image), [8, 8, 40, 32], atol=1)
        assert image_size(tmp_path / name, verify=True) == (64, 48)


def test_a_heic_photo_without_pillow_heif_says_what_to_install(tmp_path: Path, monkeypatch) -> None:
    import sys

    from gunwatch.data import images

    (tmp_path / "phone.heic").write_bytes(b"\0\0\0\x18ftypheic")
    monkeypatch.setitem(sys.modules, "pillow_heif", None)  # as if not installed
    images._register_heif.cache_clear()
    try:
        for read in (load_rgb, image_size):
            with pytest.raises(ImageDecodeError, match=r'pip install "gunwatch\[heic\]"'):
                read(tmp_path / "phone.heic")
    finally:
        images._register_heif.cache_clear()


@pytest.mark.parametrize("mode", ["RGBA", "LA", "P"])
def test_a_cut_out_on_a_transparent_background_is_shown_on_white(tmp_path: Path, mode: str) -> None:
    # A black pistol cut out on transparency: the file stores black under the transparent pixels too.
    pixels = np.zeros((32, 48, 4), np.uint8)
    pixels[8:24, 10:30, 3] = 255  # only the "gun" is opaque (black)
    image = Image.fromarray(pixels, "RGBA")
    if mode == "LA":
        image = image.convert("LA")
    elif mode == "P":
        image = image.quantize(colors=4, method=Image.Quantize.FASTOCTREE)
    path = tmp_path / "cutout.png"
    image.save(path)
    with Image.open(path) as stored:
        assert stored.mode == mode or (mode == "P" and "transparency" in stored.info)
    rgb = load_rgb(path)
    assert (rgb[8:24, 10:30] < 20).all()  # the gun stays black
    assert (rgb[:8] > 235).all() and (rgb[:, 32:] > 235).all()  # the background as a viewer shows it


def test_an_opaque_image_is_converted_as_before(tmp_path: Path) -> None:
    pixels = np.random.default_rng(0).integers(0, 256, (16, 16, 3), np.uint8)
    Image.fromarray(pixels).save(tmp_path / "photo.png")
    np.testing.assert_array_equal(load_rgb(tmp_path / "photo.png"), pixels)


def test_a_folder_tree_gives_every_image_below_it_by_path_and_skips_hidden_folders(tmp_path: Path) -> None:
    for name in ("b.jpg", "a/2026-12-07/x.png", "a/y.jpg", "c/notes.txt", ".thumbnails/t.jpg", "z.gif"):
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        if path.suffix == ".txt":
            path.write_text("camera 3")
        else:
            Image.new("RGB", (8, 8)).save(path)
    (tmp_path / "a" / "loop").symlink_to(tmp_path, target_is_directory=True)  # a link back up: not followed
    images, others = images_under(tmp_path)
    assert [p.relative_to(tmp_path).as_posix() for p in images] == ["a/2026-12-07/x.png", "a/y.jpg", "b.jpg", "z.gif"]
    assert others == [tmp_path / "c" / "notes.txt"]


def test_a_gif_is_read_as_its_first_picture(tmp_path: Path) -> None:
    first, second = Image.new("RGB", (20, 10), (200, 30, 30)), Image.new("RGB", (20, 10), (30, 30, 200))
    first.save(tmp_path / "a.gif", save_all=True, append_images=[second])
    image = load_rgb(tmp_path / "a.gif")
    assert image.shape == (10, 20, 3) and image[5, 10, 0] > 150 > image[5, 10, 2]


def test_a_folder_that_cannot_be_read_is_an_error_not_an_empty_tree(tmp_path: Path) -> None:
    # os.walk's default is to skip what it cannot list: a subfolder without permission would drop out unsaid
    with pytest.raises(OSError) as error:
        images_under(tmp_path / "gone")
    assert error.value.filename == str(tmp_path / "gone")
