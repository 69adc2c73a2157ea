"""A picture whose pixels are not square is stretched to its shape as shown before anything looks: by the SAR its
stream signals, or by the camera's `aspect` for a sub-stream squeezed without saying so."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest

from gunwatch.config import Camera
from gunwatch.video.aspect import sample_aspect, shown_size, stamp_sample_aspect
from gunwatch.video.files import iter_frames
from gunwatch.video.frame import Frame, PictureRules
from gunwatch.video.health import HealthChange
from gunwatch.video.reach import reach_camera
from gunwatch.video.sources import camera_source
from support.turned_photos import white_box
from support.videos import write_still_video

# A white square 48 px a side as a person sees it, squeezed to 36 px wide in a picture of 4:3 pixels (144 x 96 sent,
# 192 x 96 shown), as an anamorphic sub-stream carries it.
SQUEEZED = np.zeros((96, 144, 3), np.uint8)
SQUEEZED[24:72, 54:90] = 255


def decoded(path: Path) -> av.VideoFrame:
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        picture = next(container.decode(stream))
        stamp_sample_aspect(picture, stream)  # as the sources do
        return picture


@pytest.mark.parametrize(("size", "sar", "shown"), [
    ((720, 576), Fraction(64, 45), (1024, 576)),  # PAL anamorphic 16:9
    ((720, 576), Fraction(16, 15), (768, 576)),  # PAL 4:3
    ((720, 480), Fraction(8, 9), (720, 540)),  # NTSC 4:3: tall pixels, the height grows
    ((1920, 1080), Fraction(1), (1920, 1080)),
    ((1920, 1088), Fraction(1001, 1000), (1920, 1088)),  # an encoder's rounding: left alone
])
def test_the_short_side_grows_to_the_shape_as_shown(size: tuple[int, int], sar: Fraction,
                                                    shown: tuple[int, int]) -> None:
    assert shown_size(*size, sar) == shown


def test_the_cameras_aspect_gives_the_pixels_shape_and_stored_keeps_them() -> None:
    sub_stream = np.zeros((576, 704, 3), np.uint8)  # a 16:9 camera's default D1 sub-stream
    assert sample_aspect(sub_stream, "16:9") == Fraction(16, 9) * 576 / 704
    assert shown_size(704, 576, sample_aspect(sub_stream, "16:9")) == (1024, 576)
    assert sample_aspect(sub_stream, "auto") == sample_aspect(sub_stream, "stored") == 1  # nothing signalled
    assert sample_aspect(np.zeros((1080, 1920, 3), np.uint8), "16:9") == 1  # the main stream: already its shape


def test_a_signalled_sar_stretches_the_picture_and_the_square_comes_out_square(tmp_path: Path) -> None:
    picture = decoded(write_still_video(tmp_path / "d1.mp4", SQUEEZED, sar=Fraction(4, 3)))
    assert picture.opaque == Fraction(4, 3) and (picture.width, picture.height) == (144, 96)
    frame = Frame("dvr", picture, 0, 0.0, 1.0)
    assert frame.size == (192, 96) and frame.sent_size == (144, 96)
    assert frame.image.shape == (96, 192, 3)
    left, top, right, bottom = white_box(frame.image)
    assert (right - left, bottom - top) == pytest.approx((48, 48), abs=2)
    assert frame.reduced(96).image.shape == (48, 96, 3)  # evidence pictures keep the shape too
    stored = Frame("dvr", picture, 0, 0.0, 1.0, PictureRules(aspect="stored"))
    assert stored.size == (144, 96) and stored.sent_size is None and stored.image.shape == (96, 144, 3)


def test_the_camera_aspect_overrides_the_stream_and_rotate_turns_after() -> None:
    frame = Frame("sub", SQUEEZED, 0, 0.0, 1.0, PictureRules(rotate_cw=90, aspect="2:1"))
    assert frame.size == (96, 192) and frame.sent_size == (144, 96)  # stretched to 192 x 96, then turned
    left, top, right, bottom = white_box(frame.image)
    assert (right - left, bottom - top) == pytest.approx((48, 48), abs=2)


def test_a_camera_says_its_picture_is_stretched_and_detect_stretches_it_too(tmp_path: Path) -> None:
    clip = write_still_video(tmp_path / "d1.mp4", SQUEEZED, frames=4, sar=Fraction(4, 3))
    note = "(sent as 144x96, stretched to its shape)"
    assert reach_camera("dvr", Camera(url=str(clip)), timeout_s=10).detail.startswith(f"decoded a 192x96 frame {note}")
    changes: list[HealthChange] = []
    with camera_source("dvr", Camera(url=str(clip)), on_health=changes.append) as source:
        frame = source.wait(timeout=10)
        assert frame is not None and frame.size == (192, 96)
    assert changes[0].reason == f"receiving 192x96 frames {note}"
    with camera_source("dvr", Camera(url=str(clip), aspect="stored"), on_health=changes.append) as source:
        frame = source.wait(timeout=10)
        assert frame is not None and frame.size == (144, 96)
    assert changes[-1].reason == "receiving 144x96 frames"
    assert [f.image.shape for f in iter_frames(clip)] == [(96, 192, 3)] * 4
