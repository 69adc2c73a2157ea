"""Frames come out upright: turned by the display matrix of the stream (a phone clip), then by the camera's `rotate`."""

from __future__ import annotations

from pathlib import Path

import av
import numpy as np
import pytest

from gunwatch.video.files import iter_frames
from gunwatch.video.frame import Frame, PictureRules
from gunwatch.video.orientation import quarter_turns, turned
from support.turned_photos import picture_with_square, white_box
from support.videos import write_phone_clip

# Upright: a landscape picture, the square near the top left.
UPRIGHT = picture_with_square(160, 96, (16, 16, 48, 48))
SQUARE = [16, 16, 48, 48]


def decoded(path: Path) -> list[av.VideoFrame]:
    with av.open(str(path)) as container:
        return list(container.decode(video=0))


@pytest.mark.parametrize(("stream_ccw", "rotate_cw", "turns"), [
    (0, 0, 0), (90, 0, 1), (-90, 0, 3), (180, 0, 2), (0, 90, 3), (0, 270, 1), (-90, 90, 2), (90, 90, 0),
])
def test_the_stream_turns_first_then_the_camera(stream_ccw: int, rotate_cw: int, turns: int) -> None:
    assert quarter_turns(stream_ccw, rotate_cw) == turns


def test_a_camera_on_its_side_is_turned_clockwise_as_its_rotate_says() -> None:
    sideways = np.ascontiguousarray(np.rot90(UPRIGHT))  # mounted so that the picture shows turned to the left
    frame = Frame("corridor", sideways, 0, 0.0, 1.0, PictureRules(rotate_cw=90))
    assert frame.size == (160, 96)
    np.testing.assert_array_equal(frame.image, UPRIGHT)
    assert white_box(frame.reduced(80).image) == [8, 8, 24, 24]


@pytest.mark.parametrize("display_ccw", [-90, 90, 180])
def test_a_phone_clip_is_shown_upright_before_and_after_conversion(tmp_path: Path, display_ccw: int) -> None:
    clip = write_phone_clip(tmp_path / "phone.mp4", UPRIGHT, display_ccw)
    [picture, *_] = decoded(clip)
    stored = (picture.width, picture.height)
    assert stored == ((96, 160) if display_ccw % 180 else (160, 96))  # what the file holds
    frame = Frame("phone", picture, 0, 0.0, 1.0)
    assert frame.size == (160, 96)  # known before converting
    assert frame._image is None
    assert white_box(frame.image) == SQUARE
    assert white_box(Frame("phone", picture, 0, 0.0, 1.0).reduced(80).image) == [8, 8, 24, 24]


def test_a_phone_clip_on_a_camera_with_rotate_turns_both_ways(tmp_path: Path) -> None:
    clip = write_phone_clip(tmp_path / "phone.mp4", UPRIGHT, -90)
    [picture, *_] = decoded(clip)
    frame = Frame("phone", picture, 0, 0.0, 1.0, PictureRules(rotate_cw=180))
    assert white_box(frame.image) == white_box(turned(UPRIGHT, 2)) == [112, 48, 144, 80]


def test_detect_reads_a_phone_clip_upright(tmp_path: Path) -> None:
    clip = write_phone_clip(tmp_path / "phone.mp4", UPRIGHT, -90, frames=3)
    frames = list(iter_frames(clip))
    assert len(frames) == 3
    assert all(f.image.shape == (96, 160, 3) and white_box(f.image) == SQUARE for f in frames)
