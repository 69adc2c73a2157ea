"""The lineage's Faster R-CNN on ONNX Runtime (numpy only, no torch).

The exported graph is torchvision's whole eval path: it takes one RGB image as 3 x H x W float in 0..1 at
its own size, resizes it to the training scale and normalises it inside, runs the region proposal network
(`gunwatch.proposals_per_image` proposals) and the head, and returns boxes in the image's pixels with
their labels (1 = handgun) and scores after per-class NMS. Its score floor is low (0.001), so a caller
sees the whole precision-recall curve; the operating threshold travels in `gunwatch.threshold`.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnxruntime as ort

from gunwatch import GUN_LABEL
from gunwatch.inference.detections import Detections
from gunwatch.inference.onnx_session import ModelError, gunwatch_metadata, metadata_float

KIND = "faster-rcnn"
HANDGUN_LABEL = 1  # torchvision's label of the handgun class; 0 is the background


class OnnxFasterRcnn:
    def __init__(self, path: Path, session: ort.InferenceSession):
        metadata = gunwatch_metadata(session)
        self.name = path.stem
        self.session = session
        self.input_size = int(metadata_float(metadata, "gunwatch.input_size", path))
        self.proposals_per_image = int(metadata_float(metadata, "gunwatch.proposals_per_image", path))
        self.threshold = metadata_float(metadata, "gunwatch.threshold", path, default=0.5)
        self.class_names = tuple(n.strip() for n in metadata.get("gunwatch.classes", GUN_LABEL).split(","))
        if self.class_names != (GUN_LABEL,):
            raise ModelError(f"{path}: this Faster R-CNN finds {GUN_LABEL!r} only, metadata 'gunwatch.classes' "
                             f"names {self.class_names}")
        self.input_name = session.get_inputs()[0].name

    def regions(self, image: np.ndarray) -> int:
        """Proposals the head scores for one image: the RPN's post-NMS top-N (`gunwatch.proposals_per_image`),
        an upper bound the RPN reaches unless its NMS (IoU 0.7) leaves fewer boxes."""
        return self.proposals_per_image

    def detect(self, images: list[np.ndarray]) -> list[Detections]:
        return [self._detect_one(image) for image in images]

    def _detect_one(self, image: np.ndarray) -> Detections:
        chw = np.ascontiguousarray(image.transpose(2, 0, 1), dtype=np.float32) / np.float32(255)
        boxes, labels, scores = self.session.run(None, {self.input_name: chw})
        keep = labels == HANDGUN_LABEL
        return Detections(boxes[keep], scores[keep], np.zeros(int(keep.sum()), np.int64))
