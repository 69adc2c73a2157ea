"""Test-time flip: every image also runs mirrored left to right, and the two views' boxes are merged.

A handgun in a mirror is still a handgun, yet the network does not score the two views alike: a gun it
half-sees in one view it often sees in the other. The mirrored view's boxes are mirrored back into the
image's pixels and the two views go through one class-aware NMS, so each object keeps its better view's
box and score. Both views run in the same call (one batch), at twice the model runs. Measured on the test
split and on clips in the README ("Test-time flip").
"""

from __future__ import annotations

from typing import Any

import numpy as np

from gunwatch.inference.base import Detector
from gunwatch.inference.detections import Detections
from gunwatch.inference.nms import batched_nms
from gunwatch.inference.onnx_yolox import NMS_IOU


def mirror_boxes(xyxy: np.ndarray, width: int) -> np.ndarray:
    """Boxes of a left-right mirrored image of `width` pixels, in the original image's pixels (and back)."""
    mirrored = xyxy.copy()
    mirrored[:, 0], mirrored[:, 2] = width - xyxy[:, 2], width - xyxy[:, 0]
    return mirrored


def merge_views(direct: Detections, mirrored: Detections, width: int, iou_threshold: float = NMS_IOU) -> Detections:
    """One image's detections from both views (the mirrored view's still in mirrored pixels)."""
    xyxy = np.concatenate([direct.xyxy, mirror_boxes(mirrored.xyxy, width)])
    scores = np.concatenate([direct.scores, mirrored.scores])
    class_ids = np.concatenate([direct.class_ids, mirrored.class_ids])
    keep = batched_nms(xyxy, scores, class_ids, iou_threshold)
    return Detections(xyxy[keep], scores[keep], class_ids[keep])


class FlippedDetector:
    """A detector that also looks at each image mirrored; otherwise the model it wraps (its session, path,
    input size and thresholds)."""

    def __init__(self, inner: Detector):
        self.inner = inner
        self.name = f"{inner.name}+flip"
        self.class_names = inner.class_names
        self.threshold = inner.threshold

    def __getattr__(self, name: str) -> Any:
        # Only reached for what this class lacks: the runtime's own attributes (session, path, input_size).
        if name == "inner":  # not set yet (a copy being built): no recursion
            raise AttributeError(name)
        return getattr(self.inner, name)

    def detect(self, images: list[np.ndarray]) -> list[Detections]:
        if not images:
            return []
        mirrored = [np.ascontiguousarray(image[:, ::-1]) for image in images]
        found = self.inner.detect([*images, *mirrored])
        views = len(images)
        return [merge_views(direct, flipped, image.shape[1])
                for image, direct, flipped in zip(images, found[:views], found[views:], strict=True)]
