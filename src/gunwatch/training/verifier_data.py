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
from gunwatch.inference.context_crops import cut_context_crops
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


Group = tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]  # crops, labels, detector scores, source


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
        groups.append((cut_context_crops(view, boxes, plan.context, plan.side),
                       candidate_labels(boxes + offset, guns, plan), candidates.scores[kept],
                       np.full(len(boxes), SECOND_LOOK, np.int8)))
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
        boxes = np.concatenate([g[0] for g in groups]).reshape(-1, 4)
        parts.append((cut_context_crops(image, boxes, plan.context, plan.side),
                      np.concatenate([g[1] for g in groups]).astype(np.int8),
                      np.concatenate([g[2] for g in groups]).astype(np.float32),
                      np.concatenate([np.full(len(g[0]), g[3], np.int8) for g in groups])))
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
    )
