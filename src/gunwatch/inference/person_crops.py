"""Where to look closer: crops around the people of a frame, sized so that a gun in a hand comes out large.

A handgun is about a tenth of its holder's height long. Seen in a whole 1080p frame squeezed into a
416 px input, a person 360 px tall shrinks to 140 px and the gun to a dozen pixels, below what a
stride-8 detector finds. Cut from the full-resolution frame around the person and resized to the input,
the same gun comes out several times larger. The plan, for each person:

1. The reach box: the person's box widened sideways by an arm's reach and cut to the part where hands
   holding something are (head to thighs): a gun aimed or held at the hip is inside it.
2. The zoom: square crops of a side at which a gun of `gun_to_person` of the person's height comes out
   `target_gun_px` wide at the model input, never zoomed more than `max_zoom`.
3. Enough of them to cover the reach box with some overlap, at most `max_crops_per_person`: when more
   would be needed, the crops grow (less zoom) until that many cover it.

People the crop would not show at least `min_zoom_gain` times larger than the first pass did are left out,
so a close-up costs nothing extra; the most confident `max_people` people of a frame are looked at.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from gunwatch.inference.tiling import Tile, axis_starts

CROP_OVERLAP = 0.2  # of a crop's side, between neighbouring crops of one person
GROWTH = 1.1  # a crop grows by this factor at a time when fewer crops are wanted
MAX_GROWTH_TO_SAVE_A_CROP = 1.35  # zoom given up, at most, to run one crop fewer


@dataclass(frozen=True)
class SecondLookParams:
    """How closely and at how many people to look; the live defaults come from the site file."""

    max_people: int = 4  # most confident people looked at per frame
    max_crops_per_person: int = 2
    person_min_score: float = 0.3
    gun_to_person: float = 0.1  # a handgun's length as a share of its holder's height
    target_gun_px: float = 48.0  # the gun's width at the model input after zooming
    max_zoom: float = 4.0  # beyond this an upscaled crop holds no more detail, only blur
    min_zoom_gain: float = 1.5  # a crop must show the person this many times larger than the first pass did
    reach: float = 0.3  # an arm's reach beside the body, as a share of the person's height
    top: float = 0.1  # above the head (a gun raised), as a share of the height
    bottom: float = 0.75  # the reach box ends here, a share of the height below the top of the box
    # A gun away from every person's reach box must score 1 / unheld_factor times the threshold ...
    unheld_factor: float = 0.8
    near_camera: float = 0.15  # ... unless it is at least this share of the frame's height tall (held near the lens)

    def __post_init__(self) -> None:
        if self.max_people < 0 or self.max_crops_per_person < 1:
            raise ValueError("max_people must be >= 0 and max_crops_per_person >= 1")
        if not (0 < self.gun_to_person <= 1 and self.target_gun_px > 0 and self.max_zoom >= 1):
            raise ValueError("need 0 < gun_to_person <= 1, target_gun_px > 0 and max_zoom >= 1")
        if not 0 < self.unheld_factor <= 1:
            raise ValueError(f"unheld_factor must be in (0, 1], got {self.unheld_factor}")


def reach_boxes(persons: np.ndarray, params: SecondLookParams) -> np.ndarray:
    """(N, 4) xyxy of where each person's hands can hold something (not clipped to the frame)."""
    persons = np.asarray(persons, np.float64).reshape(-1, 4)
    heights = persons[:, 3] - persons[:, 1]
    return np.stack([
        persons[:, 0] - params.reach * heights,
        persons[:, 1] - params.top * heights,
        persons[:, 2] + params.reach * heights,
        persons[:, 1] + params.bottom * heights,
    ], axis=1)


def crop_side(person_height: float, input_side: int, params: SecondLookParams) -> float:
    """Side of a square crop (frame pixels) at which the person's gun comes out `target_gun_px` wide."""
    gun_px = params.gun_to_person * person_height
    return max(gun_px * input_side / params.target_gun_px, input_side / params.max_zoom)


def cover(region: Tile, side: float, width: int, height: int, max_crops: int) -> list[Tile]:
    """Square crops of at least `side` covering `region` (inside a width x height frame), at most `max_crops`;
    each crop is moved inside the frame, and none is larger than the frame. Crops grow (less zoom) until
    at most `max_crops` cover the region, and a little further when that saves one: a region slightly
    larger than one crop gets one slightly larger crop, not two."""
    largest = min(width, height)
    side = min(side, largest)
    crops = _squares(region, round(side), width, height)
    while len(crops) > max_crops and side < largest:
        side = min(side * GROWTH, largest)
        crops = _squares(region, round(side), width, height)
    bigger, limit = side, min(side * MAX_GROWTH_TO_SAVE_A_CROP, largest)
    while bigger < limit:
        bigger = min(bigger * GROWTH, limit)
        fewer = _squares(region, round(bigger), width, height)
        if len(fewer) < len(crops):
            return fewer[:max_crops]
    return crops[:max_crops]  # more only when even crops as large as the frame's height cannot cover it


def _squares(region: Tile, side: int, width: int, height: int) -> list[Tile]:
    xs = [region.x1 + x for x in axis_starts(region.x2 - region.x1, side, CROP_OVERLAP)]
    ys = [region.y1 + y for y in axis_starts(region.y2 - region.y1, side, CROP_OVERLAP)]
    crops = []
    for y in ys:
        for x in xs:
            # A region smaller than a crop is centred in it; any crop is then shifted back into the frame.
            cx = x if region.x2 - region.x1 >= side else (region.x1 + region.x2 - side) // 2
            cy = y if region.y2 - region.y1 >= side else (region.y1 + region.y2 - side) // 2
            x1, y1 = min(max(cx, 0), width - side), min(max(cy, 0), height - side)
            crops.append(Tile(x1, y1, x1 + side, y1 + side))
    return crops


def plan_person_crops(persons: np.ndarray, scores: np.ndarray, frame_size: tuple[int, int], input_side: int,
                      seen_scale: float, params: SecondLookParams) -> list[Tile]:
    """The crops to run for one frame.

    persons: (N, 4) person boxes in frame pixels; frame_size: (width, height); seen_scale: model-input
    pixels per frame pixel in the first pass (a person a crop would not show `min_zoom_gain` times larger
    is skipped).
    """
    width, height = frame_size
    order = np.argsort(-np.asarray(scores), kind="stable")
    chosen = [i for i in order if scores[i] >= params.person_min_score][: params.max_people]
    crops: list[Tile] = []
    for i, reach in zip(chosen, reach_boxes(persons[chosen], params), strict=True):
        person_height = float(persons[i][3] - persons[i][1])
        side = crop_side(person_height, input_side, params)
        if input_side / side < params.min_zoom_gain * seen_scale:
            continue  # the first pass saw this person nearly as closely as a crop would
        x1, y1 = max(0, math.floor(reach[0])), max(0, math.floor(reach[1]))
        x2, y2 = min(width, math.ceil(reach[2])), min(height, math.ceil(reach[3]))
        if x2 - x1 < 2 or y2 - y1 < 2:
            continue
        crops.extend(cover(Tile(x1, y1, x2, y2), side, width, height, params.max_crops_per_person))
    return crops
