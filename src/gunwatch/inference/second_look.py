"""The person-guided second look: the first pass finds people, a zoomed look at each finds the gun in hand.

1. The first pass (whole frame, or tiles) gives people and guns in frame pixels.
2. `plan_person_crops` picks crops around the people whose gun would be too small in the first pass.
3. Every crop of every frame goes to the detector in one call, cut from the full-resolution frame; the
   guns found are shifted back to frame pixels (a crop is an offset: the runtime already maps boxes back
   to the pixels of the image it was given), and a gun cut by a crop's edge is dropped (the first pass or
   a neighbouring crop sees it whole).
4. First-pass and crop detections merge as tiles do (NMS, then boxes inside a better one dropped).
5. Person context: a gun away from every person's reach box keeps only `unheld_factor` of its score, so
   it must score higher to count; a gun lying on a table is still found, but a lamp or a tripod in an empty
   corner is held to a higher bar than a pistol in a hand. A gun large in the frame is exempt: it is near
   the camera, where its holder is out of the picture.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from gunwatch.inference.base import Detector
from gunwatch.inference.detections import Detections
from gunwatch.inference.person_crops import SecondLookParams, plan_person_crops, reach_boxes
from gunwatch.inference.tiling import Tile, TileMode, cut_by_tile, merge_detections, should_tile

PERSON_LABEL, GUN_LABEL = "person", "handgun"


def held_mask(guns: np.ndarray, persons: np.ndarray, params: SecondLookParams) -> np.ndarray:
    """Which gun boxes (N, 4) have their centre inside some person's reach box."""
    guns = np.asarray(guns, np.float64).reshape(-1, 4)
    if len(guns) == 0 or len(persons) == 0:
        return np.zeros(len(guns), dtype=bool)
    persons = np.asarray(persons, np.float64).reshape(-1, 4)
    reach = reach_boxes(persons, params)
    # The reach box stops at the thighs (where crops are needed); here the whole body counts.
    reach[:, 3] = np.maximum(reach[:, 3], persons[:, 3])
    cx, cy = (guns[:, 0] + guns[:, 2]) / 2, (guns[:, 1] + guns[:, 3]) / 2
    inside = (
        (cx[:, None] >= reach[None, :, 0]) & (cx[:, None] <= reach[None, :, 2])
        & (cy[:, None] >= reach[None, :, 1]) & (cy[:, None] <= reach[None, :, 3])
    )
    return inside.any(axis=1)


def apply_person_context(detections: Detections, person_id: int, gun_id: int, params: SecondLookParams,
                         frame_height: float) -> Detections:
    """Guns away from every person keep `unheld_factor` of their score; everything else is unchanged.

    A gun at least `near_camera` of the frame's height tall counts as held: it is close to the camera, where
    the holder is mostly out of the picture (a hand and an arm), not a far-off object in an empty corner.
    """
    persons = detections.of_class(person_id)
    persons = persons[persons.scores >= params.person_min_score]
    is_gun = detections.class_ids == gun_id
    guns = detections.xyxy[is_gun]
    held = held_mask(guns, persons.xyxy, params) | (guns[:, 3] - guns[:, 1] >= params.near_camera * frame_height)
    scores = detections.scores.copy()
    scores[np.flatnonzero(is_gun)[~held]] *= params.unheld_factor
    return Detections(detections.xyxy, scores, detections.class_ids)


def first_pass_scale(frame_width: int, analysis_size: tuple[int, int], input_side: int, tiles: TileMode,
                     whole_side: int | None = None) -> float:
    """Model-input pixels per frame pixel in the first pass over a frame analysed at `analysis_size`
    (width, height): letterboxed into an input whose long side is `whole_side` (default `input_side`, the
    model's own), or, where it is tiled, seen at the analysis resolution."""
    width, height = analysis_size
    tiled = should_tile(width, height, input_side, tiles)
    return (1.0 if tiled else (whole_side or input_side) / max(width, height)) * width / frame_width


class SecondLook:
    """Looks closer at the people of frames whose first pass is done; one detector call for all crops."""

    def __init__(self, detector: Detector, input_side: int, params: SecondLookParams | None = None):
        self.detector = detector
        self.input_side = input_side
        self.params = params or SecondLookParams()
        names = detector.class_names
        # A model without people (the course localizer) has nothing to look closer at.
        self.enabled = PERSON_LABEL in names and GUN_LABEL in names
        self.person_id = names.index(PERSON_LABEL) if self.enabled else -1
        self.gun_id = names.index(GUN_LABEL) if self.enabled else -1
        self.model_runs = 0  # crops run so far (the cost `bench` reports beside tiling's)

    def plan(self, frame: np.ndarray, first: Detections, seen_scale: float) -> list[Tile]:
        if not self.enabled:
            return []
        persons = first.of_class(self.person_id)
        height, width = frame.shape[:2]
        return plan_person_crops(persons.xyxy, persons.scores, (width, height), self.input_side, seen_scale,
                                 self.params)

    def refine(self, frames: list[np.ndarray], first: list[Detections], seen_scales: list[float]) -> list[Detections]:
        """frames: full-resolution RGB; first: their first-pass detections in frame pixels."""
        if not self.enabled:
            return first
        plans = [self.plan(frame, found, scale) for frame, found, scale in zip(frames, first, seen_scales,
                                                                             strict=True)]
        crops = [frame[t.y1 : t.y2, t.x1 : t.x2] for frame, tiles in zip(frames, plans, strict=True) for t in tiles]
        self.model_runs += len(crops)
        per_crop = iter(self.detector.detect(crops) if crops else [])
        results = []
        for frame, found, tiles in zip(frames, first, plans, strict=True):
            height, width = frame.shape[:2]
            parts = [found]
            for tile in tiles:
                guns = next(per_crop).of_class(self.gun_id)
                boxes = guns.xyxy + np.array([tile.x1, tile.y1, tile.x1, tile.y1], np.float32)
                parts.append(Detections(boxes, guns.scores, guns.class_ids)[~cut_by_tile(boxes, tile, width, height)])
            merged = merge_detections(parts) if tiles else found
            results.append(apply_person_context(merged, self.person_id, self.gun_id, self.params, height))
        return results


class SecondLookDetector:
    """A Detector (for `detect`, `eval`, `bench`): a first pass, then the second look on the same images."""

    def __init__(self, first_pass: Detector, detector: Detector, input_side: int,
                 params: SecondLookParams | None = None, seen_scale: Callable[[np.ndarray], float] | None = None):
        """first_pass: the detector or its tiled wrapper; detector: the plain one the crops go to;
        seen_scale: model-input pixels per frame pixel in the first pass (default: the whole frame
        letterboxed into the input)."""
        self.first_pass = first_pass
        self.look = SecondLook(detector, input_side, params)
        # Named only where it runs: a report on a model without people must not claim a second look.
        self.name = f"{first_pass.name}+second-look" if self.look.enabled else first_pass.name
        self.class_names = first_pass.class_names
        self.threshold = first_pass.threshold
        self.seen_scale = seen_scale or (lambda image: input_side / max(image.shape[:2]))

    @property
    def model_runs(self) -> int:
        return self.look.model_runs

    def detect(self, images: list[np.ndarray]) -> list[Detections]:
        first = self.first_pass.detect(images)
        return self.look.refine(images, first, [self.seen_scale(image) for image in images])
