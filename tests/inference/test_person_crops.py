"""Crop planning for the second look: who is looked at, how closely, and that crops stay in the frame."""

from __future__ import annotations

import numpy as np
import pytest

from gunwatch.inference.person_crops import SecondLookParams, cover, crop_side, plan_person_crops, reach_boxes
from gunwatch.inference.tiling import Tile

INPUT = 416
FRAME = (1920, 1080)
PARAMS = SecondLookParams()


def whole_frame_scale(frame: tuple[int, int] = FRAME) -> float:
    return INPUT / max(frame)


def test_reach_box_widens_by_an_arm_and_stops_at_the_thighs() -> None:
    (box,) = reach_boxes(np.array([[900, 300, 1000, 660]]), PARAMS)
    np.testing.assert_allclose(box, [900 - 0.3 * 360, 300 - 0.1 * 360, 1000 + 0.3 * 360, 300 + 0.75 * 360])


def test_crop_side_brings_the_gun_to_the_target_size() -> None:
    side = crop_side(360, INPUT, PARAMS)  # a 36 px gun
    assert 36 * INPUT / side == pytest.approx(PARAMS.target_gun_px)


def test_crop_side_never_zooms_past_the_limit() -> None:
    assert crop_side(30, INPUT, PARAMS) == pytest.approx(INPUT / PARAMS.max_zoom)


def test_a_distant_person_gets_square_crops_inside_the_frame_covering_the_reach_box() -> None:
    person = np.array([[900, 300, 1000, 660]], np.float32)
    crops = plan_person_crops(person, np.array([0.9]), FRAME, INPUT, whole_frame_scale(), PARAMS)
    assert 1 <= len(crops) <= PARAMS.max_crops_per_person
    (reach,) = reach_boxes(person, PARAMS)
    for crop in crops:
        assert crop.x2 - crop.x1 == crop.y2 - crop.y1
        assert crop.x1 >= 0 and crop.x2 <= FRAME[0] and crop.y1 >= 0 and crop.y2 <= FRAME[1]
    assert min(c.x1 for c in crops) <= reach[0] and max(c.x2 for c in crops) >= reach[2]
    assert min(c.y1 for c in crops) <= reach[1] and max(c.y2 for c in crops) >= reach[3]


def test_a_person_whose_gun_the_first_pass_sees_large_is_skipped() -> None:
    close_up = np.array([[20, 10, 400, 630]], np.float32)  # a 620 px person in a 640 px photo
    assert plan_person_crops(close_up, np.array([0.9]), (640, 640), INPUT, INPUT / 640, PARAMS) == []


def test_only_the_most_confident_people_above_the_floor_are_looked_at() -> None:
    people = np.array([[100 + 150 * i, 300, 180 + 150 * i, 600] for i in range(8)], np.float32)
    scores = np.array([0.2, 0.9, 0.35, 0.8, 0.95, 0.1, 0.7, 0.6])
    params = SecondLookParams(max_people=3, max_crops_per_person=1)
    crops = plan_person_crops(people, scores, FRAME, INPUT, whole_frame_scale(), params)
    assert len(crops) == 3
    centres = sorted((c.x1 + c.x2) / 2 for c in crops)
    expected = sorted((people[i, 0] + people[i, 2]) / 2 for i in (4, 1, 3))  # scores 0.95, 0.9, 0.8
    np.testing.assert_allclose(centres, expected, atol=1)


def test_a_person_at_the_frame_corner_gets_crops_shifted_inside() -> None:
    corner = np.array([[0, 0, 60, 200]], np.float32)
    for crop in plan_person_crops(corner, np.array([0.9]), FRAME, INPUT, whole_frame_scale(), PARAMS):
        assert crop.x1 == 0 and crop.y1 == 0 and crop.x2 <= FRAME[0] and crop.y2 <= FRAME[1]


@pytest.mark.parametrize(
    ("region", "side", "max_crops", "expected_count"),
    [
        (Tile(100, 100, 300, 300), 300, 2, 1),  # fits in one
        (Tile(100, 100, 420, 400), 300, 2, 1),  # slightly larger than one: one crop grown a little
        (Tile(100, 100, 700, 400), 300, 4, 2),  # twice as wide: three crops, or two a fifth larger
        (Tile(100, 100, 1300, 400), 300, 8, 4),  # four times as wide: more than one in any case
        (Tile(100, 100, 900, 400), 300, 2, 2),  # too wide for the cap: crops grow until two cover it
    ],
)
def test_cover(region: Tile, side: int, max_crops: int, expected_count: int) -> None:
    crops = cover(region, side, 1920, 1080, max_crops)
    assert len(crops) == expected_count
    assert min(c.x1 for c in crops) <= region.x1 and max(c.x2 for c in crops) >= region.x2
    assert min(c.y1 for c in crops) <= region.y1 and max(c.y2 for c in crops) >= region.y2
    assert all(c.x2 - c.x1 >= side for c in crops)


def test_settings_out_of_range_are_refused() -> None:
    with pytest.raises(ValueError, match="unheld_factor"):
        SecondLookParams(unheld_factor=0)
    with pytest.raises(ValueError, match="max_crops_per_person"):
        SecondLookParams(max_crops_per_person=0)
