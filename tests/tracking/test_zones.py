"""Zones and masks: polygons in fractions of the frame, tested at a box's centre in the frame's pixels."""

from __future__ import annotations

import numpy as np
import pytest

from gunwatch.config import Zone
from gunwatch.tracking.zones import CameraZones, points_in_polygon, scale_polygon

SIZE = (640, 480)
LEFT_HALF = [(0.0, 0.0), (0.5, 0.0), (0.5, 1.0), (0.0, 1.0)]
RIGHT_HALF = [(0.5, 0.0), (1.0, 0.0), (1.0, 1.0), (0.5, 1.0)]
MIDDLE = [(0.25, 0.25), (0.75, 0.25), (0.75, 0.75), (0.25, 0.75)]


def zone(polygon: list[tuple[float, float]], enabled: bool = True) -> Zone:
    return Zone(polygon=polygon, enabled=enabled)


def box_at(x: float, y: float, half: float = 20) -> list[float]:
    return [x - half, y - half, x + half, y + half]


def test_scale_polygon_to_pixels() -> None:
    assert scale_polygon(MIDDLE, SIZE).tolist() == [[160, 120], [480, 120], [480, 360], [160, 360]]


@pytest.mark.parametrize(
    ("point", "inside"),
    [
        ((1, 1), True),
        ((3, 1), True),  # the foot of the L
        ((1, 3), True),  # its stem
        ((3, 3), False),  # the notch
        ((-1, 1), False),
        ((5, 1), False),
    ],
)
def test_points_in_a_concave_polygon(point: tuple[float, float], inside: bool) -> None:
    l_shape = np.array([(0, 0), (4, 0), (4, 2), (2, 2), (2, 4), (0, 4)], np.float64)
    assert points_in_polygon(np.array([point]), l_shape).tolist() == [inside]


def test_no_enabled_zone_means_the_whole_frame_counts() -> None:
    areas = CameraZones({"off": zone(LEFT_HALF, enabled=False)})
    counts, names = areas.place(np.array([box_at(100, 100), box_at(600, 400)]), SIZE)
    assert areas.whole_frame
    assert counts.tolist() == [True, True]
    assert names == [None, None]


def test_a_gun_counts_only_inside_an_enabled_zone_and_gets_its_name() -> None:
    areas = CameraZones({"door": zone(LEFT_HALF), "window": zone(RIGHT_HALF, enabled=False)})
    counts, names = areas.place(np.array([box_at(100, 100), box_at(600, 400)]), SIZE)
    assert counts.tolist() == [True, False]
    assert names == ["door", None]


def test_the_centre_decides_for_a_box_across_a_zone_edge() -> None:
    areas = CameraZones({"door": zone(LEFT_HALF)})
    # Mostly left of x = 320, with its right part over the edge: counts; the mirror image does not.
    counts, _ = areas.place(np.array([[250, 100, 350, 150], [290, 100, 390, 150]], np.float32), SIZE)
    assert counts.tolist() == [True, False]


def test_overlapping_zones_the_first_in_the_file_wins() -> None:
    areas = CameraZones({"middle": zone(MIDDLE), "left": zone(LEFT_HALF)})
    _, names = areas.place(np.array([box_at(200, 240), box_at(50, 50)]), SIZE)
    assert names == ["middle", "left"]


def test_a_masked_gun_never_counts_even_inside_a_zone() -> None:
    areas = CameraZones({"door": zone(LEFT_HALF)}, masks=[MIDDLE])
    counts, names = areas.place(np.array([box_at(200, 240), box_at(50, 50)]), SIZE)
    assert counts.tolist() == [False, True]
    assert names == [None, "door"]
    whole = CameraZones({}, masks=[MIDDLE])
    assert whole.place(np.array([box_at(320, 240), box_at(600, 50)]), SIZE)[0].tolist() == [False, True]


def test_polygons_follow_the_frame_size() -> None:
    areas = CameraZones({"door": zone(LEFT_HALF)})
    box = np.array([box_at(500, 100)])
    assert areas.place(box, (640, 480))[0].tolist() == [False]
    assert areas.place(box, (1280, 720))[0].tolist() == [True]


def test_no_boxes() -> None:
    counts, names = CameraZones({"door": zone(LEFT_HALF)}, [MIDDLE]).place(np.zeros((0, 4)), SIZE)
    assert counts.shape == (0,)
    assert names == []
