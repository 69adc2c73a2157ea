"""A 1080p test set of armed and unarmed people seen from afar, built from the test split.

The small-gun set (`small_guns.py`) pastes guns alone into scenes; the second look looks where people
are, so there it cannot help, and it is not what a camera sees: the held-out 1080p surveillance photos
of issue 11 show people about 360 px tall holding guns 20-40 px wide. This set shows such people. From
the split's images, people (boxes from a person model, e.g. the COCO YOLOX-Nano) who hold a labelled gun
are cut out with an arm's reach around them and pasted into 1920 x 1080 scenes at the size where their gun
comes out `min_width`-`max_width` of the frame wide. People from the gun-free images (a knife, a phone, a
tool in the hand) are pasted the same way, with the same feathered edges and at the armed people's sizes,
into every frame: so neither a pasted patch nor a person's size tells a gun, and the gun-free frames
measure false alarms on unarmed people at a distance. Only the armed people's guns are labelled (the exact
box, scaled with the patch). Only the split's images are used, so a model trained on the train split has
seen none of them.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image
from tqdm import tqdm

from gunwatch.boxes import box_area, box_intersection
from gunwatch.data.images import blend, load_rgb
from gunwatch.data.records import ImageRecord
from gunwatch.data.split import Split
from gunwatch.evaluation.small_guns import FRAME_SIZE, finish_set, scene_from, write_frame
from gunwatch.inference.person_crops import SecondLookParams, reach_boxes

# Pasted people fade in over this share of the patch's shorter side: enough to hide a hard edge, little enough
# that a gun held at arm's length (the patch's edge is an arm's reach from the body) stays opaque.
FEATHER = 0.05
PEOPLE_MIN_SCORE = 0.5  # people the set is made of: as confident as the training's pseudo-labelled people
MAX_DRAWS = 1000  # people drawn for a place in a frame before giving up (none fits the settings)


@dataclass(frozen=True)
class ArmedPeopleSettings:
    frames_with_guns: int = 100
    frames_without: int = 100
    min_width: float = 0.01  # the gun's width, as a share of the frame's width (19-38 px at 1080p)
    max_width: float = 0.02
    max_gun_to_person: float = 0.15  # wider guns for their holder's height are close-ups: little person to see
    max_upscale: float = 2.0  # a person is never enlarged more than this (blur, not a far camera)
    seed: int = 0


@dataclass(frozen=True)
class PersonCut:
    """A person with an arm's reach around them, in one source image's pixels; guns: the labelled guns
    inside the cut (none for an unarmed person)."""

    record: ImageRecord
    region: np.ndarray  # xyxy, clipped to the image
    person_height: float
    guns: np.ndarray  # (N, 4) xyxy


def reach_region(person: np.ndarray, width: int, height: int) -> np.ndarray:
    """Where the person can hold something, as the second look sees it (an arm's reach each side, room above
    the head), down to their feet, inside the image."""
    region = reach_boxes(person[None], SecondLookParams())[0]
    region[3] = person[3]  # the second look's reach stops at the thighs; a pasted person is whole
    return np.clip(region, 0, [width, height, width, height]).astype(np.float32)


def _inside_share(boxes: np.ndarray, region: np.ndarray) -> np.ndarray:
    """Share of each box's area inside the region."""
    return box_intersection(boxes, region[None])[:, 0] / np.maximum(box_area(boxes), 1e-6)


def person_cuts(records: list[ImageRecord], people: dict[str, np.ndarray],
                settings: ArmedPeopleSettings) -> tuple[list[PersonCut], list[PersonCut]]:
    """(armed, unarmed): at most one cut per image, its tallest person that qualifies.

    Armed: the person's reach holds a whole labelled gun no wider than `max_gun_to_person` of their height,
    and no gun is cut in part by the region's edge (its label would be ambiguous). Unarmed: any person of
    a gun-free image."""
    armed, unarmed = [], []
    for record in records:
        persons = np.asarray(people.get(record.key, np.zeros((0, 4))), np.float32).reshape(-1, 4)
        for person in sorted(persons, key=lambda p: p[1] - p[3]):  # tallest first
            region = reach_region(person, record.width, record.height)
            tall = float(person[3] - person[1])
            if tall < 2 or region[2] - region[0] < 2 or region[3] - region[1] < 2:
                continue
            if not record.has_gun:
                unarmed.append(PersonCut(record, region, tall, np.zeros((0, 4), np.float32)))
                break
            share = _inside_share(record.gun_boxes, region)
            whole = share >= 0.999
            if not whole.any() or ((share > 0) & ~whole).any():
                continue
            guns = record.gun_boxes[whole]
            if (guns[:, 2] - guns[:, 0]).max() > settings.max_gun_to_person * tall:
                continue
            armed.append(PersonCut(record, region, tall, guns))
            break
    return armed, unarmed


@dataclass(frozen=True)
class Pasted:
    box: tuple[int, int, int, int]  # where the patch went, frame pixels
    guns: np.ndarray  # the guns' boxes in frame pixels
    person_height: float


def paste_person(frame: np.ndarray, cut: PersonCut, scale: float, taken: list[tuple[int, int, int, int]],
                 rng: np.random.Generator, tries: int = 20) -> Pasted | None:
    """Paste the cut scaled by `scale` at a random free place (not over an earlier patch); None if none fits."""
    x1, y1, x2, y2 = (round(float(v)) for v in cut.region)
    source = load_rgb(cut.record.image_path)[y1:y2, x1:x2]
    width, height = max(1, round(source.shape[1] * scale)), max(1, round(source.shape[0] * scale))
    if width >= frame.shape[1] or height >= frame.shape[0]:
        return None
    for _ in range(tries):
        x0 = int(rng.integers(0, frame.shape[1] - width))
        y0 = int(rng.integers(0, frame.shape[0] - height))
        place = (x0, y0, x0 + width, y0 + height)
        if not any(place[0] < b[2] and b[0] < place[2] and place[1] < b[3] and b[1] < place[3] for b in taken):
            break
    else:
        return None
    blend(frame, np.asarray(Image.fromarray(source).resize((width, height), Image.LANCZOS)), x0, y0, FEATHER)
    # The guns' own boxes, moved into the patch and scaled with it (each side by its own exact factor).
    factors = np.array([width / source.shape[1], height / source.shape[0]] * 2, np.float32)
    guns = (cut.guns - np.array([x1, y1, x1, y1], np.float32)) * factors + np.array([x0, y0, x0, y0], np.float32)
    return Pasted(place, guns, cut.person_height * height / source.shape[0])


def pasted_person_boxes(people: list[dict[str, object]]) -> np.ndarray:
    """(N, 4) xyxy person boxes for a frame's manifest `people` entries: each person stands at the bottom centre
    of their patch, half as wide as tall (a set's ground truth for who is where; the patch adds the reach)."""
    boxes = []
    for person in people:
        x1, _, x2, y2 = person["patch"]  # type: ignore[misc]
        height = float(person["person_height"])  # type: ignore[arg-type]
        boxes.append([(x1 + x2 - height / 2) / 2, y2 - height, (x1 + x2 + height / 2) / 2, y2])
    return np.array(boxes, np.float32).reshape(-1, 4)


def build_armed_people_set(records: list[ImageRecord], people: dict[str, np.ndarray], out: Path,
                           settings: ArmedPeopleSettings = ArmedPeopleSettings(), split_name: str = "test") -> Path:
    """Write the set to `out` (notebook layout, with a manifest, a README and `split.json`, which puts every
    frame in `split_name`: the split its people came from, so a set cut from the train split can join a
    training config's `extra_train`); returns `out`.

    Frames 1..frames_with_guns hold one armed person and, half the time, an unarmed one; the rest hold one
    or two unarmed people. Scenes are the split's gun-free images scaled to 1920 x 1080."""
    rng = np.random.default_rng(settings.seed)
    armed, unarmed = person_cuts(records, people, settings)
    scenes = [r for r in records if not r.has_gun]
    if not armed or not unarmed or not scenes:
        raise ValueError(f"the split needs armed people ({len(armed)} found), unarmed people ({len(unarmed)}) "
                         f"and gun-free scenes ({len(scenes)}) to build the armed-people set")
    # Unarmed people are pasted at the heights armed people come out at, so size tells nothing.
    gun_to_person = [float((c.guns[:, 2] - c.guns[:, 0]).max() / c.person_height) for c in armed]
    manifest: list[dict[str, object]] = []
    total = settings.frames_with_guns + settings.frames_without
    for index in tqdm(range(1, total + 1), desc="building 1080p armed-people frames", unit="frame"):
        scene = scenes[int(rng.integers(len(scenes)))]
        frame = scene_from(load_rgb(scene.image_path)).copy()
        with_gun = index <= settings.frames_with_guns
        taken: list[tuple[int, int, int, int]] = []
        boxes: list[np.ndarray] = []
        sources: list[dict[str, object]] = []
        if with_gun:
            for _ in range(MAX_DRAWS):  # an armed person whose gun fits the asked width, not enlarged too much
                cut = armed[int(rng.integers(len(armed)))]
                gun_width = rng.uniform(settings.min_width, settings.max_width) * FRAME_SIZE[0]
                scale = gun_width / float((cut.guns[:, 2] - cut.guns[:, 0]).max())
                pasted = paste_person(frame, cut, scale, taken, rng) if scale <= settings.max_upscale else None
                if pasted is not None:
                    break
            else:
                raise ValueError(f"no armed person fits a {FRAME_SIZE[0]}x{FRAME_SIZE[1]} frame at guns "
                                 f"{settings.min_width:.0%}-{settings.max_width:.0%} of its width")
            taken.append(pasted.box)
            boxes.extend(np.clip(pasted.guns, 0, [*FRAME_SIZE, *FRAME_SIZE]))
            sources.append({"source": cut.record.key, "armed": True, "patch": list(pasted.box),
                            "person_height": round(pasted.person_height, 1)})
        decoys = int(rng.integers(0, 2)) if with_gun else int(rng.integers(1, 3))
        for _ in range(decoys):
            for _ in range(MAX_DRAWS):  # an unarmed person at an armed person's height, where one fits
                cut = unarmed[int(rng.integers(len(unarmed)))]
                height = rng.uniform(settings.min_width, settings.max_width) * FRAME_SIZE[0] / float(
                    gun_to_person[int(rng.integers(len(gun_to_person)))])
                pasted = paste_person(frame, cut, min(height / cut.person_height, settings.max_upscale), taken, rng)
                if pasted is not None:
                    break
            else:
                raise ValueError(f"no unarmed person fits a {FRAME_SIZE[0]}x{FRAME_SIZE[1]} frame beside the others")
            taken.append(pasted.box)
            sources.append({"source": cut.record.key, "armed": False, "patch": list(pasted.box),
                            "person_height": round(pasted.person_height, 1)})
        write_frame(out, index, frame, boxes)
        manifest.append({"id": index, "origin": "armed-people" if with_gun else "unarmed-people",
                         "scene": scene.key, "people": sources, "guns": len(boxes)})
    keys = [f"{entry['id']}.jpg" for entry in manifest]
    (out / "split.json").write_text(Split(settings.seed, {}, {split_name: keys}).to_json(out.name))
    return finish_set(out, manifest, _readme(settings, len(armed), len(unarmed)))


def _readme(settings: ArmedPeopleSettings, armed: int, unarmed: int) -> str:
    return (
        "# 1080p armed-people set (generated)\n\n"
        f"Made by `gunwatch data armed-people` with {settings}.\n"
        f"People: {armed} armed and {unarmed} unarmed people cut from the split's images with an arm's reach "
        f"around them (boxes from a person model), pasted with feathered edges into the split's gun-free "
        f"scenes scaled to 1920x1080, at the size where the gun comes out {settings.min_width:.0%}-"
        f"{settings.max_width:.0%} of the frame wide (unarmed people at the same heights). Frames 1..N hold an "
        "armed person (origin armed-people), the rest only unarmed people (origin unarmed-people).\n"
    )
