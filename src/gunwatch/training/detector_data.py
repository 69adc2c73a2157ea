"""Training images for the detector: decoded once into memory, with person and handgun boxes."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from tqdm import tqdm

from gunwatch.data.images import load_rgb, shrink_to
from gunwatch.data.records import ImageRecord

DETECTOR_CLASSES = ("person", "handgun")
PERSON, HANDGUN = 0, 1


@dataclass(frozen=True)
class DetectorSample:
    """One image (RGB uint8, longest side at most the cache side) and its boxes in those pixels."""

    image: np.ndarray
    boxes: np.ndarray  # (K, 4) xyxy float32
    classes: np.ndarray  # (K,) int64


def load_detector_samples(
    records: list[ImageRecord], people: dict[str, np.ndarray] | None, longest_side: int, desc: str
) -> list[DetectorSample]:
    """Decode and shrink every image once; person boxes (if given) join the handgun boxes."""
    samples = []
    for record in tqdm(records, desc=desc, unit="img"):
        image, scale = shrink_to(load_rgb(record.image_path), longest_side)
        persons = people.get(record.key, np.zeros((0, 4), np.float32)) if people else np.zeros((0, 4), np.float32)
        guns = record.gun_boxes
        boxes = np.concatenate([persons, guns]).astype(np.float32) * scale
        classes = np.array([PERSON] * len(persons) + [HANDGUN] * len(guns), np.int64)
        samples.append(DetectorSample(image, boxes.reshape(-1, 4), classes))
    return samples
