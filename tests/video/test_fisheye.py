"""A ceiling fisheye's circle is unwrapped into two upright half panoramas: every point lands where the geometry
says, people lying round the circle come out standing, and nobody at a seam is lost."""

from __future__ import annotations

import math
from pathlib import Path

import av
import numpy as np
import pytest

from gunwatch.config import Camera
from gunwatch.config.camera import Fisheye
from gunwatch.video.fisheye import (
    OVERLAP,
    SPAN,
    circle_advice,
    found_circle,
    panorama_point,
    panorama_size,
    unwrapped,
)
from gunwatch.video.frame import Frame, PictureRules
from gunwatch.video.health import HealthChange
from gunwatch.video.reach import reach_camera
from gunwatch.video.sources import camera_source
from support.videos import write_still_video

CEILING = Fisheye(mount="ceiling")
SIZE = 400  # a square picture whose circle fills it: radius 200 px


def dot_at(angle_deg: float, r: float, size: int = SIZE) -> tuple[np.ndarray, tuple[float, float]]:
    """A white 7 x 7 dot about `r` px from the centre at `angle_deg` (clockwise from the right, as y points down), and
    its centre in continuous coordinates (a pixel's centre at its index + 0.5, as Pillow and `panorama_point` count)."""
    picture = np.zeros((size, size, 3), np.uint8)
    x = round(size / 2 + r * math.cos(math.radians(angle_deg)))
    y = round(size / 2 + r * math.sin(math.radians(angle_deg)))
    picture[y - 3:y + 4, x - 3:x + 4] = 255
    return picture, (x + 0.5, y + 0.5)


def bright_centre(image: np.ndarray) -> tuple[float, float]:
    """The brightness-weighted centre of a picture, in continuous coordinates."""
    weight = image[..., 0].astype(float)
    ys, xs = np.mgrid[:image.shape[0], :image.shape[1]]
    return float((weight * xs).sum() / weight.sum()) + 0.5, float((weight * ys).sum() / weight.sum()) + 0.5


def test_the_panorama_keeps_the_radius_one_for_one_and_two_halves_stacked() -> None:
    width, height = panorama_size(SIZE, SIZE, CEILING)
    assert height == 2 * round(200 * (1 - CEILING.inner))  # down a half: the rim to the inner circle, pixel for pixel
    assert width == pytest.approx(SPAN * 0.6 * 200, abs=2)
    assert unwrapped(np.zeros((SIZE, SIZE, 3), np.uint8), CEILING).shape == (height, width, 3)


@pytest.mark.parametrize(("angle", "r", "half"), [(90, 150, 0), (45, 190, 0), (200, 100, 1), (300, 120, 1)])
def test_a_point_lands_where_the_geometry_says(angle: float, r: float, half: int) -> None:
    picture, (x, y) = dot_at(angle, r)
    panorama = unwrapped(picture, CEILING)
    half_height = panorama.shape[0] // 2
    found = bright_centre(panorama[half * half_height:(half + 1) * half_height])
    u, v = panorama_point(x, y, SIZE, SIZE, CEILING, half)
    assert found == pytest.approx((u, v - half * half_height), abs=0.75)


def test_someone_lying_at_the_left_of_the_circle_comes_out_standing_head_up() -> None:
    # A person at 180 degrees (the circle's left): feet towards the centre, head towards the rim, so in the picture
    # they lie on their side, head to the left.
    picture = np.zeros((SIZE, SIZE, 3), np.uint8)
    picture[196:205, 20:120, 1] = 255  # body (green), from the rim inwards
    picture[194:207, 20:34, 0] = 255  # head (red), at the rim end
    panorama = unwrapped(picture, CEILING)
    upper = panorama[:panorama.shape[0] // 2]
    body_ys, body_xs = np.nonzero(upper[..., 1] > 100)
    head_ys, _ = np.nonzero(upper[..., 0] > 100)
    assert body_ys.max() - body_ys.min() > 4 * (body_xs.max() - body_xs.min())  # standing: tall, narrow
    assert head_ys.mean() < body_ys.mean()  # head up


def test_a_point_on_a_seam_is_in_both_halves() -> None:
    picture, _ = dot_at(0, 150)  # angle 0: the end of the lower half and the start of the upper one
    panorama = unwrapped(picture, CEILING)
    half_height = panorama.shape[0] // 2
    upper, lower = bright_centre(panorama[:half_height]), bright_centre(panorama[half_height:])
    width = panorama.shape[1]
    assert upper[0] == pytest.approx(OVERLAP / SPAN * width, abs=0.75)
    assert lower[0] == pytest.approx((math.pi + OVERLAP) / SPAN * width, abs=0.75)


def test_a_frame_of_a_fisheye_camera_is_its_panorama_decoded_or_not(tmp_path: Path) -> None:
    picture, _ = dot_at(90, 90, size=256)
    rules = PictureRules(fisheye=CEILING)
    clip = write_still_video(tmp_path / "fisheye.mp4", picture)
    with av.open(str(clip)) as container:
        decoded = next(container.decode(video=0))
    frame = Frame("hall", decoded, 0, 0.0, 1.0, rules)
    assert frame.panoramic and frame.size == panorama_size(256, 256, CEILING)  # known before converting
    assert frame.image.shape[1::-1] == frame.size
    small = Frame("hall", decoded, 0, 0.0, 1.0, rules).reduced(frame.size[0] // 2)
    assert small.size == (frame.size[0] // 2, frame.size[1] // 2)
    assert bright_centre(small.image)[0] * 2 == pytest.approx(bright_centre(frame.image)[0], abs=2)  # the same, smaller
    still = Frame("hall", picture, 0, 0.0, 1.0, rules)
    assert still.image.shape == frame.image.shape


def test_a_fisheye_camera_says_so_and_rotate_is_refused(tmp_path: Path) -> None:
    picture, _ = dot_at(90, 100, size=256)
    clip = write_still_video(tmp_path / "fisheye.mp4", picture)
    camera = Camera(url=str(clip), fisheye=CEILING)
    width, height = panorama_size(256, 256, CEILING)
    note = "(fisheye: unwrapped into two half panoramas)"
    assert reach_camera("hall", camera, timeout_s=10).detail.startswith(f"decoded a {width}x{height} frame {note}")
    changes: list[HealthChange] = []
    with camera_source("hall", camera, on_health=changes.append) as source:
        frame = source.wait(timeout=10)
        assert frame is not None and frame.size == (width, height)
    assert changes[0].reason == f"receiving {width}x{height} frames {note}"


def lit_disc(width: int, height: int, cx: float, cy: float, radius: float) -> np.ndarray:
    """A fisheye's picture: a scene in a disc (textured, with dark patches, as rooms have) and black round it."""
    rng = np.random.default_rng(0)
    picture = rng.integers(40, 256, (height, width, 3), dtype=np.uint8)
    picture[rng.random((height, width)) < 0.05] = 0  # dark clothes and shadows, here and there
    ys, xs = np.mgrid[:height, :width] + 0.5
    picture[np.hypot(xs - cx, ys - cy) > radius] = 0
    return picture


@pytest.mark.parametrize(("width", "height", "cx", "cy", "radius"), [
    (320, 240, 144, 120, 96),  # off centre, well inside
    (400, 240, 200, 120, 144),  # larger than the frame is tall: its top and bottom cut off
])
def test_the_circle_a_picture_shows_is_found(width: int, height: int, cx: float, cy: float, radius: float) -> None:
    assert found_circle(lit_disc(width, height, cx, cy, radius)) == pytest.approx((cx, cy, radius), abs=1.5)


def test_the_cameras_clock_in_a_corner_does_not_move_the_circle_and_a_label_across_it_gives_no_guess() -> None:
    picture = lit_disc(320, 240, 144, 120, 96)
    picture[5:15, 5:80] = 255  # the date and time, top left
    assert found_circle(picture) == pytest.approx((144, 120, 96), abs=1.5)
    picture[110:120, 250:315] = 255  # a label level with the circle's middle: its rows look wider than they are
    assert found_circle(picture) is None


def test_no_circle_is_guessed_in_the_dark_or_without_black_round_it() -> None:
    assert found_circle(np.zeros((240, 320, 3), np.uint8)) is None
    assert found_circle(lit_disc(320, 240, 160, 120, 1000)) is None  # lit to the corners: no circle to see


def test_a_circle_set_wrong_is_told_and_a_right_one_is_not() -> None:
    picture = lit_disc(320, 240, 144, 120, 96)
    assert circle_advice(picture, Fisheye(mount="ceiling", center=(0.45, 0.5), radius=0.4)) == ""
    assert circle_advice(picture, CEILING) == ("the picture's circle is at center [0.45, 0.50], radius 0.40; the "
                                               "camera's fisheye says [0.50, 0.50], 0.50")


def test_config_check_reach_and_the_cameras_status_tell_where_the_circle_is(tmp_path: Path) -> None:
    clip = write_still_video(tmp_path / "fisheye.mp4", lit_disc(320, 240, 144, 120, 96))
    advice = "the picture's circle is at center [0.45, 0.50], radius 0.40; the camera's fisheye says [0.50, 0.50], 0.50"
    wrong = Camera(url=str(clip), fisheye=CEILING)
    result = reach_camera("hall", wrong, timeout_s=10)
    assert result.ok and result.detail.endswith(f" s; {advice}")
    changes: list[HealthChange] = []
    with camera_source("hall", wrong, on_health=changes.append) as source:
        assert source.wait(timeout=10) is not None
    assert changes[0].state == "online" and changes[0].reason.endswith(f"panoramas); {advice}")
    right = Camera(url=str(clip), fisheye=Fisheye(mount="ceiling", center=(0.45, 0.5), radius=0.4))
    assert reach_camera("hall", right, timeout_s=10).detail.endswith(" s")
