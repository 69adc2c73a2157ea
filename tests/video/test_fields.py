"""Interlaced video has its comb taken out: whatever moved between the two fields comes out once, where the first
field saw it, and what stood still keeps the lines of both fields."""

from __future__ import annotations

from pathlib import Path

import av
import numpy as np
import pytest

from gunwatch.config import Camera
from gunwatch.video.fields import uncombed, woven
from gunwatch.video.files import iter_frames
from gunwatch.video.frame import Frame, PictureRules
from gunwatch.video.health import HealthChange
from gunwatch.video.reach import reach_camera
from gunwatch.video.sources import camera_source
from support.turned_photos import white_box
from support.videos import woven_picture, write_interlaced_video

# A white square that moved 80 px to the right between the two fields, on black (as a camera codes it) ...
FIRST = np.zeros((96, 160, 3), np.uint8)
FIRST[16:48, 16:48] = 255
SECOND = np.zeros_like(FIRST)
SECOND[16:48, 96:128] = 255
WOVEN = woven_picture(FIRST, SECOND)
# ... and on a still background with detail in every line: it brightens down the picture by 1 and 4 grey levels
# in turn, so no line is its neighbours' mean (made again, it would differ) and none lies beyond both (no comb).
STILL = np.repeat(np.cumsum(np.resize([1, 4], 96)).astype(np.uint8)[:, None, None], 160, axis=1).repeat(3, axis=2)
TEXTURED = woven_picture(np.where(FIRST == 255, FIRST, STILL), np.where(SECOND == 255, SECOND, STILL))


def decoded(path: Path) -> list[av.VideoFrame]:
    with av.open(str(path)) as container:
        return list(container.decode(video=0))


def test_the_moved_square_comes_out_once_and_the_still_lines_stay() -> None:
    assert white_box(WOVEN) == [16.0, 16.0, 128.0, 48.0]  # combed: both places, every other line
    for woven_image, background in ((WOVEN, np.zeros_like(STILL)), (TEXTURED, STILL)):
        shown = uncombed(woven_image)
        assert shown.shape == woven_image.shape
        assert white_box(shown) == [16.0, 16.0, 48.0, 47.0]  # line 47 blends the last white field line with below
        gone = np.abs(shown[16:48, 96:128].astype(int) - background[16:48, 96:128])
        assert gone.max() <= 2  # the second field's square is gone, its lines made again from the first's ...
        beside = np.r_[64:95, 129:160]  # ... and around it (a pixel off each side, made again too) nothing moved
        np.testing.assert_array_equal(shown[:, beside], background[:, beside])
    np.testing.assert_array_equal(uncombed(STILL), STILL)  # still: every line kept as it was


def test_a_picture_of_one_or_two_lines_or_an_odd_height_keeps_its_shape() -> None:
    np.testing.assert_array_equal(uncombed(WOVEN[:1]), WOVEN[:1])
    assert uncombed(WOVEN[:2]).shape == (2, 160, 3)
    shown = uncombed(WOVEN[:47])
    assert shown.shape == (47, 160, 3) and shown[:, 64:].max() == 0


@pytest.mark.parametrize(("rule", "flagged", "expected"), [
    ("auto", True, True), ("auto", False, False), ("always", False, True), ("never", True, False),
])
def test_the_rule_and_the_streams_flag_decide(tmp_path: Path, rule: str, flagged: bool, expected: bool) -> None:
    clip = write_interlaced_video(tmp_path / "clip.mp4", WOVEN, flagged=flagged)
    [picture, *_] = decoded(clip)
    assert bool(picture.interlaced_frame) is flagged
    assert woven(picture, rule) is expected  # type: ignore[arg-type]


def test_an_interlaced_picture_reaches_the_detector_uncombed(tmp_path: Path) -> None:
    clip = write_interlaced_video(tmp_path / "clip.mp4", WOVEN)
    [picture, *_] = decoded(clip)
    frame = Frame("dvr", picture, 0, 0.0, 1.0)
    assert frame.interlaced and frame.size == (160, 96)
    assert frame.image[16:48, 96:128].max() < 60  # where only the second field saw it: coding noise
    assert white_box(frame.image)[:2] == [16.0, 16.0]
    never = Frame("dvr", picture, 0, 0.0, 1.0, PictureRules(deinterlace="never"))
    assert not never.interlaced and never.image[20:44:2, 100:124].max() < 60 < never.image[21:44:2, 100:124].min()


def test_always_takes_apart_pictures_already_decoded_and_turns_after() -> None:
    frame = Frame("encoder", WOVEN, 0, 0.0, 1.0, PictureRules(rotate_cw=180, deinterlace="always"))
    np.testing.assert_array_equal(frame.image, np.rot90(uncombed(WOVEN), 2))
    np.testing.assert_array_equal(Frame("progressive", WOVEN, 0, 0.0, 1.0).image, WOVEN)  # auto: not flagged


def test_a_camera_says_it_takes_combs_out_and_detect_does_too(tmp_path: Path) -> None:
    clip = write_interlaced_video(tmp_path / "dvr.mp4", WOVEN, frames=5)
    result = reach_camera("dvr", Camera(url=str(clip)), timeout_s=10)
    assert result.ok and result.detail.startswith("decoded a 160x96 frame (interlaced: combs taken out) in ")
    changes: list[HealthChange] = []
    with camera_source("dvr", Camera(url=str(clip)), on_health=changes.append) as source:
        frame = source.wait(timeout=10)
        assert frame is not None and frame.interlaced
    assert changes[0].reason == "receiving 160x96 frames (interlaced: combs taken out)"
    frames = list(iter_frames(clip))
    assert len(frames) == 5 and all(f.image[16:48, 96:128].max() < 60 for f in frames)
