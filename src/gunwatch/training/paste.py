"""Copy-paste of small guns: teach the detector the 10-50 px handguns a far camera sees.

The data set's guns are mostly large (close-ups), and zooming a whole image out leaves it as a small
picture on grey padding. Here a training gun is cut with a little context (as `gunwatch data small-guns`
does for the test set, but from the train split only), shrunk to a gun width drawn log-uniformly from
`px`, and blended into the training canvas with feathered edges, so no hard patch border is there to
learn. Distractor patches of the same sizes, cut from gun-free images, are pasted too: "a pasted patch"
must not mean "a gun". A box mostly hidden under a pasted patch is dropped, as its pixels are.

Held guns (`paste_held_guns`) go where a camera sees guns: at a hand of a labelled person, sized as a share
of that person's height, so gun-free scenes with people become scenes of an armed person.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from gunwatch.boxes import box_area, box_intersection
from gunwatch.data.images import LUMA_WEIGHTS, blend, resize_by
from gunwatch.evaluation.small_guns import cut_gun
from gunwatch.training.detector_data import HANDGUN, PERSON, DetectorSample

MAX_HIDDEN = 0.5  # a box more than this share covered by a pasted patch is dropped
HELD_MIN_PX = 6.0  # a held gun is pasted only where it comes out at least this wide
GREY_TOLERANCE = 3.0  # mean channel disagreement (0..255) below which a scene counts as grey


@dataclass(frozen=True)
class PasteBank:
    """Where pastes come from: every handgun (sample, box) and every gun-free sample."""

    guns: tuple[tuple[int, int], ...]
    gun_free: tuple[int, ...]

    @classmethod
    def from_samples(cls, samples: list[DetectorSample]) -> PasteBank:
        guns = tuple(
            (i, j) for i, s in enumerate(samples) for j in np.flatnonzero(s.classes == HANDGUN).tolist()
        )
        gun_free = tuple(i for i, s in enumerate(samples) if not (s.classes == HANDGUN).any())
        return cls(guns, gun_free)


def random_crop(image: np.ndarray, height: int, width: int, rng: np.random.Generator) -> np.ndarray:
    """A crop of at most (height, width) from a random place (smaller images give what they have)."""
    height, width = min(height, image.shape[0]), min(width, image.shape[1])
    y0 = int(rng.integers(0, image.shape[0] - height + 1))
    x0 = int(rng.integers(0, image.shape[1] - width + 1))
    return image[y0 : y0 + height, x0 : x0 + width]


# (patch height, patch width, rng) -> top-left corner of the patch on the canvas, or None to skip it
Placement = Callable[[int, int, np.random.Generator], tuple[int, int] | None]
# ("gun" or "distractor", rng -> width in input pixels, where it goes)
PasteItem = tuple[str, Callable[[np.random.Generator], float], Placement]


def paste_small_guns(
    image: np.ndarray, boxes: np.ndarray, classes: np.ndarray, samples: list[DetectorSample], bank: PasteBank,
    px: tuple[float, float], rng: np.random.Generator, guns: int, distractors: int,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Paste `guns` small guns and `distractors` gun-free patches anywhere; returns the image, boxes and classes."""
    height, width = image.shape[:2]

    def anywhere(patch_height: int, patch_width: int, rng: np.random.Generator) -> tuple[int, int]:
        return int(rng.integers(0, width - patch_width + 1)), int(rng.integers(0, height - patch_height + 1))

    def log_uniform(rng: np.random.Generator) -> float:
        return float(np.exp(rng.uniform(np.log(px[0]), np.log(px[1]))))

    kinds = ["gun"] * (guns if bank.guns else 0) + ["distractor"] * (distractors if bank.gun_free else 0)
    return paste_patches(image, boxes, classes, samples, bank, rng, [(kind, log_uniform, anywhere) for kind in kinds])


def paste_held_guns(
    image: np.ndarray, boxes: np.ndarray, classes: np.ndarray, samples: list[DetectorSample], bank: PasteBank,
    share: tuple[float, float], rng: np.random.Generator, min_px: float = HELD_MIN_PX,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A gun at one hand of a labelled person, and half the time a gun-free patch at the other hand.

    Gun-free scenes with people (surveillance frames, people holding knives or phones) become scenes of an
    armed person, the gun's width a log-uniform `share` of the person's height, as a held handgun is. The
    decoy keeps "something pasted at a hand" from meaning a gun. A scene that is grey gets grey patches.
    Unchanged when no person is tall enough for a gun of `min_px`.
    """
    people = boxes[classes == PERSON].reshape(-1, 4)
    tall = people[(people[:, 3] - people[:, 1]) * share[0] >= min_px]
    if not len(tall) or not bank.guns:
        return image, boxes, classes
    person = tall[int(rng.integers(len(tall)))]
    person_height = float(person[3] - person[1])
    gun_width = float(np.exp(rng.uniform(np.log(share[0]), np.log(share[1])))) * person_height
    canvas_height, canvas_width = image.shape[:2]
    gun_side = int(rng.integers(2))

    def at_hand(side: int) -> Placement:
        def place(patch_height: int, patch_width: int, rng: np.random.Generator) -> tuple[int, int] | None:
            # Beside the body at the chosen side, reaching out up to a quarter of the height; hand height.
            edge, outward = (person[0], -1.0) if side == 0 else (person[2], 1.0)
            centre_x = edge + outward * rng.uniform(-0.1, 0.25) * person_height
            centre_y = person[1] + rng.uniform(0.3, 0.6) * person_height
            x0, y0 = round(centre_x - patch_width / 2), round(centre_y - patch_height / 2)
            if x0 < 0 or y0 < 0 or x0 + patch_width > canvas_width or y0 + patch_height > canvas_height:
                return None
            return x0, y0
        return place

    def same_width(rng: np.random.Generator) -> float:
        return gun_width

    items: list[PasteItem] = [("gun", same_width, at_hand(gun_side))]
    if bank.gun_free and rng.random() < 0.5:
        items.append(("distractor", same_width, at_hand(1 - gun_side)))
    return paste_patches(image, boxes, classes, samples, bank, rng, items, match_grey=True)


def paste_patches(
    image: np.ndarray, boxes: np.ndarray, classes: np.ndarray, samples: list[DetectorSample], bank: PasteBank,
    rng: np.random.Generator, items: list[PasteItem], match_grey: bool = False,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Paste each (kind, width, placement): a training gun cut with context ("gun") or a gun-free patch
    ("distractor"), `width(rng)` input pixels wide, where `placement` puts it; returns the image, its boxes
    (covered ones dropped, pasted guns added) and classes."""
    canvas = image.copy()
    height, width = canvas.shape[:2]
    grey_scene = match_grey and is_grey(canvas)
    covers: list[np.ndarray] = []  # every pasted patch, in paste order
    pasted: list[tuple[int, np.ndarray]] = []  # (index in covers, box) of each pasted gun
    for kind, width_of, placement in items:
        gun_width = width_of(rng)
        if kind == "gun":
            sample_index, box_index = bank.guns[int(rng.integers(len(bank.guns)))]
            source, gun_box = cut_gun(samples[sample_index].image, samples[sample_index].boxes[box_index])
            scale = gun_width / max(float(gun_box[2] - gun_box[0]), 1.0)
        else:
            # A gun-free crop shaped like a gun patch, shrunk to the same widths.
            image_free = samples[bank.gun_free[int(rng.integers(len(bank.gun_free)))]].image
            side = int(rng.integers(24, 160))
            source = random_crop(image_free, int(side * rng.uniform(0.5, 1.5)), side, rng)
            scale = gun_width * 1.2 / source.shape[1]
        patch = resize_by(source, scale)
        if patch.shape[0] >= height or patch.shape[1] >= width or min(patch.shape[:2]) < 3:
            continue
        corner = placement(patch.shape[0], patch.shape[1], rng)
        if corner is None:
            continue
        x0, y0 = corner
        blend(canvas, to_grey(patch) if grey_scene else patch, x0, y0)
        covers.append(np.array([x0, y0, x0 + patch.shape[1], y0 + patch.shape[0]], np.float32))
        if kind == "gun":
            # The box follows the patch's own resize, axis by axis.
            ratio = np.array([patch.shape[1] / source.shape[1], patch.shape[0] / source.shape[0]] * 2, np.float32)
            box = np.clip(gun_box * ratio, 0, [patch.shape[1], patch.shape[0]] * 2) + np.array([x0, y0, x0, y0])
            pasted.append((len(covers) - 1, box.astype(np.float32)))
    keep = visible_after(boxes.reshape(-1, 4), covers)
    # A pasted gun can be hidden by a patch pasted after it.
    new_boxes = [box for index, box in pasted if visible_after(box[None], covers[index + 1 :])[0]]
    out_boxes = np.concatenate([boxes.reshape(-1, 4)[keep], np.array(new_boxes, np.float32).reshape(-1, 4)])
    out_classes = np.concatenate([classes[keep], np.full(len(new_boxes), HANDGUN, np.int64)])
    return canvas, out_boxes.astype(np.float32), out_classes.astype(np.int64)


def is_grey(image: np.ndarray, tolerance: float = GREY_TOLERANCE) -> bool:
    """Whether the three channels agree everywhere but for a little noise (a night-mode or B/W camera)."""
    pixels = image.astype(np.int16)
    spread = np.abs(pixels[..., 0] - pixels[..., 1]) + np.abs(pixels[..., 1] - pixels[..., 2])
    return float(spread.mean()) <= tolerance


def to_grey(image: np.ndarray) -> np.ndarray:
    luma = image.astype(np.float32) @ LUMA_WEIGHTS
    return np.repeat(luma.round().clip(0, 255).astype(np.uint8)[..., None], 3, axis=2)


def visible_after(boxes: np.ndarray, covers: list[np.ndarray]) -> np.ndarray:
    """Mask of boxes that no single pasted patch hides by more than MAX_HIDDEN of their area."""
    if not len(boxes) or not covers:
        return np.ones(len(boxes), dtype=bool)
    hidden = box_intersection(boxes, np.stack(covers)) / np.maximum(box_area(boxes), 1e-6)[:, None]
    return (hidden <= MAX_HIDDEN).all(axis=1)
