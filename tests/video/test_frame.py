"""A frame from the decoder stays YUV until it is read: `image` converts it, `reduced` scales it directly."""

from __future__ import annotations

import av
import numpy as np

from gunwatch.video.frame import Frame


def decoder_picture(width: int = 1280, height: int = 720) -> tuple[av.VideoFrame, np.ndarray]:
    """A YUV 4:2:0 picture as a decoder hands it over, and the RGB it stands for."""
    rng = np.random.default_rng(0)
    rgb = np.repeat(np.repeat(rng.integers(0, 256, (height // 16, width // 16, 3), np.uint8), 16, 0), 16, 1)
    picture = av.VideoFrame.from_ndarray(rgb, format="rgb24").reformat(format="yuv420p")
    return picture, picture.to_ndarray(format="rgb24")


def test_a_decoder_picture_is_converted_only_when_read() -> None:
    picture, rgb = decoder_picture()
    frame = Frame("lobby", picture, 3, 0.2, 1000.0)
    assert frame.size == (1280, 720)
    assert frame._image is None  # the point of the test: nothing converted yet
    assert np.array_equal(frame.image, rgb)
    assert frame.image is frame.image  # converted once


def test_reduced_scales_the_decoder_picture_like_the_rgb_reduction() -> None:
    picture, rgb = decoder_picture()
    from_yuv = Frame("lobby", picture, 3, 0.2, 1000.0).reduced(640)
    from_rgb = Frame("lobby", rgb, 3, 0.2, 1000.0).reduced(640)
    assert from_yuv.image.shape == from_rgb.image.shape == (360, 640, 3)
    assert (from_yuv.index, from_yuv.pts, from_yuv.received) == (3, 0.2, 1000.0)
    # Blocks of 16 px average the same either way, up to colour-conversion rounding.
    difference = np.abs(from_yuv.image.astype(int) - from_rgb.image.astype(int))
    assert np.median(difference) <= 2, np.median(difference)


def test_reduced_fits_a_box_from_the_decoder_picture_too() -> None:
    picture, _ = decoder_picture(64, 4096)  # a tall strip, still YUV
    small = Frame("lobby", picture, 0, None, 1.0).reduced(640, 640)
    assert small.image.shape == (585, 9, 3)  # factor 7 (4096 / 640, rounded up): 4096 // 7, 64 // 7
    assert Frame("lobby", picture, 0, None, 1.0).reduced(640).size == (64, 4096)  # no height given: width only


def test_a_small_frame_is_its_own_reduction() -> None:
    picture, _ = decoder_picture(640, 352)
    frame = Frame("lobby", picture, 0, None, 1.0)
    assert frame.reduced(640) is frame


def test_threads_converting_one_frame_at_once_take_turns() -> None:
    """The clip encoder and the pipeline can read a frame the ring kept at the same moment; PyAV's scaler
    context is per frame and not thread-safe, so unguarded this crashed the process."""
    from concurrent.futures import ThreadPoolExecutor

    picture, rgb = decoder_picture(1280, 720)
    frame = Frame("lobby", picture, 0, None, 1.0)
    with ThreadPoolExecutor(4) as pool:
        smalls = list(pool.map(lambda _: frame.reduced(640).image.shape, range(40)))
        images = list(pool.map(lambda _: frame.image, range(8)))
    assert set(smalls) == {(360, 640, 3)}
    assert all(image is images[0] for image in images) and np.array_equal(images[0], rgb)
