"""The notebook localizer on ONNX Runtime: one box and one gun probability per image."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnxruntime as ort

from gunwatch import GUN_LABEL
from gunwatch.inference.detections import Detections
from gunwatch.inference.onnx_session import ModelError, gunwatch_metadata, metadata_float
from gunwatch.inference.preprocess import resize_rgb, to_nchw_float

KIND = "localizer"


class OnnxLocalizer:
    def __init__(self, path: Path, session: ort.InferenceSession):
        metadata = gunwatch_metadata(session)
        self.name = path.stem
        self.session = session
        self.input_size = int(metadata_float(metadata, "gunwatch.input_size", path))
        self.threshold = metadata_float(metadata, "gunwatch.threshold", path, default=0.5)
        self.class_names = tuple(n.strip() for n in metadata.get("gunwatch.classes", GUN_LABEL).split(","))
        if len(self.class_names) != 1:
            raise ModelError(f"{path}: a localizer has one class, metadata 'gunwatch.classes' names {self.class_names}")

    def detect(self, images: list[np.ndarray]) -> list[Detections]:
        if not images:
            return []
        batch = to_nchw_float([resize_rgb(image, self.input_size) for image in images])
        probabilities, boxes = self.session.run(None, {"images": batch})
        return [_to_detections(p, box, image.shape) for p, box, image in zip(probabilities, boxes, images, strict=True)]


def _to_detections(probability: np.ndarray, box: np.ndarray, shape: tuple[int, ...]) -> Detections:
    height, width = shape[:2]
    scaled = np.clip(box, 0.0, 1.0) * np.array([width, height, width, height], np.float32)
    return Detections(scaled[None], np.array([probability]), np.zeros(1, np.int64))
