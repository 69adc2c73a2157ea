"""R-CNN on ONNX Runtime (Girshick et al. 2014): selective search, each proposal warped with context to a
small square, one ONNX call per batch of crops (CNN features -> calibrated linear classifier + box
regressor), decode, NMS. numpy + onnxruntime + OpenCV; no torch.

Every proposal goes through the whole CNN on its own, which is what made R-CNN slow (the course's 50 s an
image on VOC) and what Fast R-CNN's one feature map per image fixed.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnxruntime as ort

from gunwatch import GUN_LABEL
from gunwatch.inference.detections import Detections
from gunwatch.inference.lineage.box_coding import clip_boxes, decode
from gunwatch.inference.nms import nms
from gunwatch.inference.onnx_session import ModelError, gunwatch_metadata, metadata_float
from gunwatch.inference.proposals import ProposalSettings, selective_search

KIND = "rcnn"
# The paper pads each box with 16 pixels of context at its 227 px warp; the runtime scales that to its side.
PAPER_CONTEXT = 16 / 227
# ImageNet's mean pixel fills what the padded box takes from outside the image (it normalises to zero).
FILL = (124, 116, 104)


def context_box(boxes: np.ndarray, size: int, pad_px: float) -> np.ndarray:
    """Each box dilated so that, warped to `size` x `size`, it has `pad_px` pixels of context on each side
    (the paper's padding p: the box itself fills size - 2 * pad_px)."""
    boxes = np.asarray(boxes, np.float64).reshape(-1, 4)
    scale = size / (size - 2.0 * pad_px)
    centre = (boxes[:, :2] + boxes[:, 2:]) / 2
    half = (boxes[:, 2:] - boxes[:, :2]) / 2 * scale
    return np.concatenate([centre - half, centre + half], axis=1)


def warp_regions(image: np.ndarray, boxes: np.ndarray, size: int, pad_px: float) -> np.ndarray:
    """N x size x size x 3 uint8: each box of `image` with its context, stretched (anisotropically, as the
    paper's best variant) to the square; what lies outside the image is the ImageNet mean pixel."""
    import cv2

    padded = np.round(context_box(boxes, size, pad_px)).astype(np.int64)
    height, width = image.shape[:2]
    crops = np.empty((len(padded), size, size, 3), np.uint8)
    for index, (x1, y1, x2, y2) in enumerate(padded):
        x2, y2 = max(x2, x1 + 1), max(y2, y1 + 1)
        inside = image[max(y1, 0) : max(min(y2, height), 0), max(x1, 0) : max(min(x2, width), 0)]
        if inside.size == 0:
            crops[index] = FILL
            continue
        region = cv2.copyMakeBorder(inside, max(-y1, 0), max(y2 - height, 0), max(-x1, 0), max(x2 - width, 0),
                                    cv2.BORDER_CONSTANT, value=FILL)
        shrinking = region.shape[0] > size and region.shape[1] > size
        crops[index] = cv2.resize(region, (size, size), interpolation=cv2.INTER_AREA if shrinking else cv2.INTER_LINEAR)
    return crops


class OnnxRcnn:
    def __init__(self, path: Path, session: ort.InferenceSession):
        metadata = gunwatch_metadata(session)
        self.name = path.stem
        self.session = session
        self.input_size = int(metadata_float(metadata, "gunwatch.input_size", path))
        self.threshold = metadata_float(metadata, "gunwatch.threshold", path, default=0.5)
        self.class_names = tuple(n.strip() for n in metadata.get("gunwatch.classes", GUN_LABEL).split(","))
        if len(self.class_names) != 1:
            raise ModelError(f"{path}: R-CNN here has one class, metadata 'gunwatch.classes' names {self.class_names}")
        self.context_px = metadata_float(metadata, "gunwatch.context_px", path, default=PAPER_CONTEXT * self.input_size)
        self.proposals = ProposalSettings(
            max_side=int(metadata_float(metadata, "gunwatch.proposal_max_side", path, default=224)),
            mode="quality" if metadata.get("gunwatch.proposal_mode") == "quality" else "fast",
            limit=int(metadata_float(metadata, "gunwatch.proposal_limit", path, default=2000)),
        )
        self.nms_iou = metadata_float(metadata, "gunwatch.nms_iou", path, default=0.3)
        self.max_detections = int(metadata_float(metadata, "gunwatch.max_detections", path, default=100))
        self.batch = int(metadata_float(metadata, "gunwatch.batch", path, default=64))
        self.means = _floats(metadata.get("gunwatch.delta_means", "0,0,0,0"))
        self.stds = _floats(metadata.get("gunwatch.delta_stds", "1,1,1,1"))
        threads = session.get_session_options().intra_op_num_threads
        self.threads = threads if threads > 0 else None
        self.last_proposal_counts: list[int] = []  # proposals per image of the last `detect` (the bench reads it)

    def propose(self, image: np.ndarray) -> np.ndarray:
        """Selective search's boxes (N, 4) in the image's pixels, as the detector sees them."""
        return selective_search(image, self.proposals, self.threads)

    def regions(self, image: np.ndarray) -> int:
        """Proposals the network scores for `image` (the benchmark's regions per image)."""
        return len(self.propose(image))

    def score(self, image: np.ndarray, boxes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(gun probability N, deltas N x 4) of the given boxes of `image`, in batches."""
        scores, deltas = [np.zeros(0, np.float32)], [np.zeros((0, 4), np.float32)]
        for start in range(0, len(boxes), self.batch):
            crops = warp_regions(image, boxes[start : start + self.batch], self.input_size, self.context_px)
            batch = np.ascontiguousarray(crops.transpose(0, 3, 1, 2), dtype=np.float32) / 255.0
            probability, delta = self.session.run(None, {"crops": batch})
            scores.append(probability.reshape(-1))
            deltas.append(delta.reshape(-1, 4))
        return np.concatenate(scores), np.concatenate(deltas)

    def detect(self, images: list[np.ndarray]) -> list[Detections]:
        results, self.last_proposal_counts = [], []
        for image in images:
            proposals = self.propose(image)
            self.last_proposal_counts.append(len(proposals))
            scores, deltas = self.score(image, proposals)
            height, width = image.shape[:2]
            boxes = clip_boxes(decode(proposals, deltas, self.means, self.stds), width, height)
            real = (boxes[:, 2] - boxes[:, 0] > 1) & (boxes[:, 3] - boxes[:, 1] > 1)
            boxes, scores = boxes[real], scores[real]
            keep = nms(boxes, scores, self.nms_iou)[: self.max_detections]
            results.append(Detections(boxes[keep], scores[keep].astype(np.float32), np.zeros(len(keep), np.int64)))
        return results


def _floats(text: str) -> tuple[float, ...]:
    return tuple(float(value) for value in text.split(","))
