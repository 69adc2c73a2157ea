"""A whole-image opinion on top of the detector's: the localizer's gun probability for each image raises the
image's top gun box.

The localizer (the course's classifier with a box head: 224 px, the whole image) ranks gun photos better than
the detector and its verifier do at image level, but its one box is too coarse to say where the gun is
(mAP@0.5 0.41). So its opinion goes to the box the detector is surest of, whose score becomes
1 - (1 - detector) * (1 - localizer): either one seeing a gun raises it. Every other box keeps its score,
and no score is ever lowered, so a gun the whole image is too coarse to show (30 px in a 1080p frame) keeps
the detector's score. Inside tiling and the second look it judges each tile and person crop as an image.
Measured, not a default: verifier card, "Tried" (`scripts/image_score_fusion.py`).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from gunwatch import GUN_LABEL
from gunwatch.inference.base import Detector
from gunwatch.inference.detections import Detections


def raise_top_gun(detections: Detections, gun_id: int, opinion: float) -> Detections:
    """`detections` with its best gun box's score raised by noisy-or with `opinion` (a probability)."""
    guns = np.flatnonzero(detections.class_ids == gun_id)
    if not len(guns):
        return detections
    best = guns[int(np.argmax(detections.scores[guns]))]
    scores = detections.scores.copy()
    scores[best] = 1.0 - (1.0 - float(scores[best])) * (1.0 - float(np.clip(opinion, 0.0, 1.0)))
    return Detections(detections.xyxy, scores, detections.class_ids)


class ImageOpinionDetector:
    """A detector whose top gun box per image also carries a whole-image classifier's opinion; otherwise the
    detector it wraps (its session, path, input size and thresholds)."""

    def __init__(self, inner: Detector, opinion: Detector):
        self.inner, self.opinion = inner, opinion
        self.name = f"{inner.name}+{opinion.name}"
        self.class_names = inner.class_names
        self.gun_id = inner.class_names.index(GUN_LABEL)
        self.opinion_gun_id = opinion.class_names.index(GUN_LABEL)
        self.threshold = inner.threshold

    def __getattr__(self, name: str) -> Any:
        if name == "inner":  # not set yet (a copy being built): no recursion
            raise AttributeError(name)
        return getattr(self.inner, name)

    def detect(self, images: list[np.ndarray]) -> list[Detections]:
        found = self.inner.detect(images)
        if not images:
            return found
        opinions = [self._gun_probability(d) for d in self.opinion.detect(images)]
        return [raise_top_gun(d, self.gun_id, p) for d, p in zip(found, opinions, strict=True)]

    def _gun_probability(self, detections: Detections) -> float:
        guns = detections.scores[detections.class_ids == self.opinion_gun_id]
        return float(guns.max()) if len(guns) else 0.0
