"""Copy-paste of small guns: teach the detector the 10-50 px handguns a far camera sees.

The data set's guns are mostly large (close-ups), and zooming a whole image out leaves it as a small
picture on grey padding. Here a training gun is cut with a little context (as `gunwatch data small-guns`
does for the test set, but from the train split only), shrunk to a gun width drawn log-uniformly from
`px`, and blended into the training canvas with feathered edges, so no hard patch border is there to
learn. Distractor patches of the same sizes, cut from gun-free images, are pasted too: "a pasted patch"
must not mean "a gun". A box mostly hidden under a pasted patch is dropped, as its pixels are.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from gunwatch.boxes import box_area, box_intersection
from gunwatch.data.images import resize_by
from gunwatch.evaluation.small_guns import cut_gun
from gunwatch.training.detector_data import HANDGUN, DetectorSample

FEATHER = 0.2  # share of the patch's shorter side over which it fades in
MAX_HIDDEN = 0.5  # a box more than this share covered by a pasted patch is dropped


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


def feather_mask(height: int, width: int, feather: float = FEATHER) -> np.ndarray:
    """Alpha (H, W, 1) in 0..1: 1 inside, ramping linearly to ~0 over `feather` of the shorter side."""
    ramp = max(1.0, feather * min(height, width))

    def edge(n: int) -> np.ndarray:
        distance = np.minimum(np.arange(n), np.arange(n)[::-1]) + 0.5
        return np.clip(distance / ramp, 0, 1)

    return np.minimum.outer(edge(height), edge(width))[..., None].astype(np.float32)


def blend(canvas: np.ndarray, patch: np.ndarray, x0: int, y0: int) -> None:
    """Blend `patch` (fully inside the canvas) at (x0, y0) with feathered edges, in place."""
    height, width = patch.shape[:2]
    alpha = feather_mask(height, width)
    region = canvas[y0 : y0 + height, x0 : x0 + width].astype(np.float32)
    canvas[y0 : y0 + height, x0 : x0 + width] = (alpha * patch + (1 - alpha) * region).round().astype(np.uint8)


def random_crop(image: np.ndarray, height: int, width: int, rng: np.random.Generator) -> np.ndarray:
    """A crop of at most (height, width) from a random place (smaller images give what they have)."""
    height, width = min(height, image.shape[0]), min(width, image.shape[1])
    y0 = int(rng.integers(0, image.shape[0] - height + 1))
    x0 = int(rng.integers(0, image.shape[1] - width + 1))
    return image[y0 : y0 + height, x0 : x0 + width]


def paste_small_guns(
    image: np.ndarray, boxes: np.ndarray, classes: np.ndarray, samples: list[DetectorSample], bank: PasteBank,
    px: tuple[float, float], rng: np.random.Generator, guns: int, distractors: int,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Paste `guns` small guns and `distractors` gun-free patches; returns the image, boxes and classes."""
    canvas = image.copy()
    height, width = canvas.shape[:2]
    covers: list[np.ndarray] = []  # every pasted patch, in paste order
    pasted: list[tuple[int, np.ndarray]] = []  # (index in covers, box) of each pasted gun
    for kind in ["gun"] * (guns if bank.guns else 0) + ["distractor"] * (distractors if bank.gun_free else 0):
        gun_width = float(np.exp(rng.uniform(np.log(px[0]), np.log(px[1]))))
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
        x0 = int(rng.integers(0, width - patch.shape[1] + 1))
        y0 = int(rng.integers(0, height - patch.shape[0] + 1))
        blend(canvas, patch, x0, y0)
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


def visible_after(boxes: np.ndarray, covers: list[np.ndarray]) -> np.ndarray:
    """Mask of boxes that no single pasted patch hides by more than MAX_HIDDEN of their area."""
    if not len(boxes) or not covers:
        return np.ones(len(boxes), dtype=bool)
    hidden = box_intersection(boxes, np.stack(covers)) / np.maximum(box_area(boxes), 1e-6)[:, None]
    return (hidden <= MAX_HIDDEN).all(axis=1)
