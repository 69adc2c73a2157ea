"""The gun verifier's training crops: what the detector proposes on a split, labelled by the ground truth.

For every image of a split the detector's gun candidates (its `top_k` best boxes scoring at least
`floor`, the ones the verifier will judge at run time) are cut as context crops, and labelled:
a gun where the box overlaps a labelled gun (IoU >= `positive_iou`), not a gun where it overlaps none
(IoU < `negative_iou`: the knife in a hand, the phone, the camera on its bracket, the tool, but also the
hand or sleeve beside a real gun), and left out in between. Every labelled gun is added as a crop of its
own too, so a gun the detector missed still teaches the verifier. Crops are cut once, with the runtime's
own function (`inference.context_crops`), and kept in one compressed file per split and detector.

The detector's people are added as not-gun crops too (up to `person_negatives` per image, the most
confident, unless a labelled gun fills the box): on footage from high cameras the detector sometimes boxes
a whole small person as a handgun, a candidate web photos never offer, and a verifier that has never seen
a whole person agrees with it (`gunwatch bench alarms`: a woman walking away, a shopper seen from above).

With a `SecondLook`, the candidates the detector makes on the second look's person crops join them
(source SECOND_LOOK): at run time the verifier judges those too, cut from the zoomed crop the detector
was given, and on camera views they are most of what it sees. They are labelled in frame pixels, and a
candidate cut by its crop's edge is left out, as the second look drops it.

For a verifier with a box head each crop also carries its own box and its target, both in crop units
(`inference.context_crops.to_crop_units`): the labelled gun the box overlaps most, where that overlap is
at least `target_iou` (NaN elsewhere: not-guns, people, boxes too far off to say which gun they meant). A
candidate a little off its gun (IoU 0.25-0.5: a hand and half a pistol) is what the head learns to move.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
from tqdm import tqdm

from gunwatch import GUN_LABEL
from gunwatch.boxes import box_iou
from gunwatch.data.images import load_rgb
from gunwatch.data.records import ImageRecord
from gunwatch.inference.base import Detector
from gunwatch.inference.context_crops import context_squares, cut_context_crops, to_crop_units
from gunwatch.inference.detections import Detections
from gunwatch.inference.second_look import SecondLook, first_pass_scale
from gunwatch.inference.tiling import cut_by_tile
from gunwatch.inference.verifier import top_candidates

GUN, NOT_GUN, IGNORED = 1, 0, -1
CANDIDATE, LABELLED, PERSON, SECOND_LOOK = 0, 1, 2, 3  # where a crop came from
PERSON_LABEL = "person"
PERSON_MIN_SCORE = 0.5


@dataclass(frozen=True)
class CropPlan:
    """How candidates become crops (the run-time verifier uses the same numbers, from its metadata)."""

    side: int = 128
    context: float = 1.8
    floor: float = 0.03
    top_k: int = 8
    positive_iou: float = 0.4
    negative_iou: float = 0.1
    person_negatives: int = 2
    target_iou: float = 0.25


@dataclass(frozen=True)
class VerifierCrops:
    """One split's crops; `image` indexes `keys` (the records, in order), `score` is the detector's (-1 for
    a labelled gun added as its own crop)."""

    crops: np.ndarray  # N x side x side x 3 uint8 RGB
    label: np.ndarray  # N int8: GUN, NOT_GUN, IGNORED
    score: np.ndarray  # N float32
    image: np.ndarray  # N int32
    source: np.ndarray  # N int8: CANDIDATE, LABELLED, PERSON, SECOND_LOOK
    keys: np.ndarray  # images: record keys
    has_gun: np.ndarray  # images: bool
    box: np.ndarray  # N x 4 float32: the crop's own box in crop units
    target: np.ndarray  # N x 4 float32: the labelled gun it overlaps most in crop units, NaN where none

    def __len__(self) -> int:
        return len(self.label)

    def save(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        partial = path.with_name(path.name + ".partial.npz")
        np.savez_compressed(partial, **{name: getattr(self, name) for name in self.__dataclass_fields__})
        partial.replace(path)

    @classmethod
    def load(cls, path: Path) -> VerifierCrops:
        with np.load(path, allow_pickle=False) as stored:
            return cls(**{name: stored[name] for name in cls.__dataclass_fields__})


def candidate_labels(boxes: np.ndarray, guns: np.ndarray, plan: CropPlan) -> np.ndarray:
    """GUN / NOT_GUN / IGNORED for each candidate box by its best IoU with the labelled guns."""
    if len(boxes) == 0:
        return np.zeros(0, np.int8)
    best = box_iou(boxes, guns).max(axis=1) if len(guns) else np.zeros(len(boxes))
    labels = np.full(len(boxes), IGNORED, np.int8)
    labels[best >= plan.positive_iou] = GUN
    labels[best < plan.negative_iou] = NOT_GUN
    return labels


def person_boxes(found: Detections, person_class: int | None, guns: np.ndarray, plan: CropPlan) -> np.ndarray:
    """The image's most confident people (at most `person_negatives`) whose box no labelled gun fills."""
    if person_class is None or plan.person_negatives == 0:
        return np.zeros((0, 4), np.float32)
    people = found.of_class(person_class)
    people = people[people.scores >= PERSON_MIN_SCORE]
    if len(guns):
        people = people[box_iou(people.xyxy, guns).max(axis=1, initial=0.0) < plan.negative_iou]
    order = np.argsort(-people.scores, kind="stable")[: plan.person_negatives]
    return people.xyxy[order]


def box_targets(boxes: np.ndarray, guns: np.ndarray, squares: np.ndarray, min_iou: float) -> np.ndarray:
    """(N, 4) crop-unit boxes of the labelled gun each box overlaps most (at least `min_iou`), NaN elsewhere."""
    targets = np.full((len(boxes), 4), np.nan, np.float32)
    if len(boxes) == 0 or len(guns) == 0:
        return targets
    overlaps = box_iou(boxes, guns)
    best = overlaps.argmax(axis=1)
    matched = overlaps[np.arange(len(boxes)), best] >= min_iou
    targets[matched] = to_crop_units(guns[best[matched]], squares[matched])
    return targets


# crops, labels, detector scores, source, own boxes and targets in crop units
Group = tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]


def crop_group(image: np.ndarray, boxes: np.ndarray, labels: np.ndarray, scores: np.ndarray, source: np.ndarray,
               guns: np.ndarray, plan: CropPlan) -> Group:
    """The crops of `boxes` (image pixels, as `guns`) with their labels, scores, sources, boxes and targets."""
    boxes = np.asarray(boxes, np.float32).reshape(-1, 4)
    squares = context_squares(boxes, plan.context)
    return (cut_context_crops(image, boxes, plan.context, plan.side), labels.astype(np.int8),
            scores.astype(np.float32), source.astype(np.int8), to_crop_units(boxes, squares),
            box_targets(boxes, np.asarray(guns, np.float32).reshape(-1, 4), squares, plan.target_iou))


def second_look_groups(detector: Detector, look: SecondLook, image: np.ndarray, found: Detections,
                       guns: np.ndarray, gun_class: int, plan: CropPlan) -> list[Group]:
    """The candidates of the second look's crops of one image, cut from the crop the detector was given."""
    height, width = image.shape[:2]
    # Mining runs the detector on the whole image untiled, as `first_pass_scale` says for tiles off.
    tiles = look.plan(image, found, first_pass_scale(width, (width, height), look.input_side, "off"))
    views = [image[t.y1 : t.y2, t.x1 : t.x2] for t in tiles]
    groups = []
    for tile, view, seen in zip(tiles, views, detector.detect(views) if views else [], strict=True):
        candidates = seen.of_class(gun_class)
        candidates = candidates[top_candidates(candidates.scores, plan.floor, plan.top_k)]
        offset = np.array([tile.x1, tile.y1, tile.x1, tile.y1], np.float32)
        kept = ~cut_by_tile(candidates.xyxy + offset, tile, width, height)
        boxes = candidates.xyxy[kept]
        groups.append(crop_group(view, boxes, candidate_labels(boxes + offset, guns, plan), candidates.scores[kept],
                                 np.full(len(boxes), SECOND_LOOK, np.int8), guns - offset, plan))
    return groups


def mine_verifier_crops(detector: Detector, records: list[ImageRecord], plan: CropPlan,
                        description: str = "cutting crops", second_look: SecondLook | None = None) -> VerifierCrops:
    gun_class = detector.class_names.index(GUN_LABEL)
    person_class = detector.class_names.index(PERSON_LABEL) if PERSON_LABEL in detector.class_names else None
    parts: list[Group] = []
    image_of: list[np.ndarray] = []
    for index, record in enumerate(tqdm(records, desc=description, unit="img")):
        image = load_rgb(record.image_path)
        (found,) = detector.detect([image])
        guns = found.of_class(gun_class)
        chosen = top_candidates(guns.scores, plan.floor, plan.top_k)
        people = person_boxes(found, person_class, record.gun_boxes, plan)
        groups = [  # boxes, labels, detector scores, source
            (guns.xyxy[chosen], candidate_labels(guns.xyxy[chosen], record.gun_boxes, plan), guns.scores[chosen],
             CANDIDATE),
            (record.gun_boxes, np.full(len(record.gun_boxes), GUN, np.int8), np.full(len(record.gun_boxes), -1.0),
             LABELLED),
            (people, np.full(len(people), NOT_GUN, np.int8), np.full(len(people), -1.0), PERSON),
        ]
        parts.append(crop_group(image, np.concatenate([g[0] for g in groups]).reshape(-1, 4),
                                np.concatenate([g[1] for g in groups]), np.concatenate([g[2] for g in groups]),
                                np.concatenate([np.full(len(g[0]), g[3], np.int8) for g in groups]),
                                record.gun_boxes, plan))
        if second_look is not None:
            parts += second_look_groups(detector, second_look, image, found, record.gun_boxes, gun_class, plan)
        image_of += [np.full(len(part[1]), index, np.int32) for part in parts[len(image_of):]]  # this image's parts
    side = plan.side
    return VerifierCrops(
        crops=np.concatenate([p[0] for p in parts]) if parts else np.zeros((0, side, side, 3), np.uint8),
        label=np.concatenate([p[1] for p in parts]) if parts else np.zeros(0, np.int8),
        score=np.concatenate([p[2] for p in parts]).astype(np.float32) if parts else np.zeros(0, np.float32),
        image=np.concatenate(image_of) if image_of else np.zeros(0, np.int32),
        source=np.concatenate([p[3] for p in parts]) if parts else np.zeros(0, np.int8),
        keys=np.array([record.key for record in records]),
        has_gun=np.array([record.has_gun for record in records], dtype=bool),
        box=np.concatenate([p[4] for p in parts]) if parts else np.zeros((0, 4), np.float32),
        target=np.concatenate([p[5] for p in parts]) if parts else np.zeros((0, 4), np.float32),
    )
