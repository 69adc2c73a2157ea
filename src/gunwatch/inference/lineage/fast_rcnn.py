"""Fast R-CNN (Girshick 2015) on ONNX Runtime: selective search, then one network call per image.

The image is scaled (shorter side to `gunwatch.min_side`, longer at most `gunwatch.max_side`), its selective
search proposals are scaled with it, and one call of the exported graph computes the feature map once and
pools every proposal from it (RoI pooling or RoI align, `gunwatch.roi_op`): class probabilities and box
deltas per proposal. Each proposal is moved by its class's deltas (`box_coding.decode`), scored by that
class's probability, and NMS runs per class (`gunwatch.nms_iou`, the paper's 0.3). No torch.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnxruntime as ort
from PIL import Image

from gunwatch import GUN_LABEL
from gunwatch.inference.detections import Detections
from gunwatch.inference.lineage.box_coding import clip_boxes, decode
from gunwatch.inference.nms import batched_nms
from gunwatch.inference.onnx_session import ModelError, gunwatch_metadata, metadata_float
from gunwatch.inference.proposals import ProposalSettings, selective_search

KIND = "fast-rcnn"


def input_scale(height: int, width: int, min_side: int, max_side: int) -> float:
    """The factor that takes the shorter side to `min_side`, unless the longer would pass `max_side`."""
    return min(min_side / min(height, width), max_side / max(height, width))


def scale_image(image: np.ndarray, scale: float) -> np.ndarray:
    """HxWx3 uint8 RGB resized by `scale` (bilinear), as training and the runtime both see it."""
    height, width = image.shape[:2]
    size = (max(1, round(width * scale)), max(1, round(height * scale)))
    return np.asarray(Image.fromarray(image).resize(size, Image.BILINEAR))


def to_input(image: np.ndarray) -> np.ndarray:
    """HxWx3 uint8 RGB -> 1 x 3 x H x W float32 0..1."""
    return np.ascontiguousarray(image.transpose(2, 0, 1)[None], dtype=np.float32) / np.float32(255.0)


def postprocess(probabilities: np.ndarray, deltas: np.ndarray, rois: np.ndarray, scale: float,
                image_shape: tuple[int, ...], stds: tuple[float, ...], nms_iou: float,
                max_detections: int) -> Detections:
    """One image's detections in its own pixels.

    probabilities R x (1 + K) (column 0: background), deltas R x 4K, rois R x 4 in the network input's
    pixels, `scale` the input's size over the image's. Every proposal gives one box per class; per-class NMS,
    then the `max_detections` best scores. No score threshold.
    """
    height, width = image_shape[:2]
    rois = np.asarray(rois, np.float32).reshape(-1, 4)
    classes = probabilities.shape[1] - 1
    boxes, scores, class_ids = [], [], []
    for k in range(classes):
        decoded = decode(rois, deltas[:, 4 * k : 4 * k + 4], stds=stds) / np.float32(scale)
        boxes.append(clip_boxes(decoded, width, height))
        scores.append(probabilities[:, k + 1])
        class_ids.append(np.full(len(rois), k, np.int64))
    if not classes or not len(rois):
        return Detections()
    xyxy, score, class_id = np.concatenate(boxes), np.concatenate(scores), np.concatenate(class_ids)
    sized = (xyxy[:, 2] > xyxy[:, 0]) & (xyxy[:, 3] > xyxy[:, 1])
    xyxy, score, class_id = xyxy[sized], score[sized], class_id[sized]
    keep = batched_nms(xyxy, score, class_id, nms_iou)[:max_detections]
    return Detections(xyxy[keep], score[keep], class_id[keep])


class OnnxFastRcnn:
    """The Detector of an exported Fast R-CNN: `proposals_per_image` holds the last `detect` call's counts."""

    def __init__(self, path: Path, session: ort.InferenceSession):
        metadata = gunwatch_metadata(session)
        self.name = path.stem
        self.session = session
        self.threshold = metadata_float(metadata, "gunwatch.threshold", path, default=0.5)
        self.class_names = tuple(n.strip() for n in metadata.get("gunwatch.classes", GUN_LABEL).split(","))
        self.min_side = int(metadata_float(metadata, "gunwatch.min_side", path))
        self.max_side = int(metadata_float(metadata, "gunwatch.max_side", path))
        self.input_size = self.max_side
        self.roi_op = metadata.get("gunwatch.roi_op", "pool")
        self.nms_iou = metadata_float(metadata, "gunwatch.nms_iou", path, default=0.3)
        self.max_detections = int(metadata_float(metadata, "gunwatch.max_detections", path, default=100))
        try:
            self.stds = tuple(float(v) for v in metadata["gunwatch.box_stds"].split(","))
            self.proposal_settings = ProposalSettings(
                max_side=int(metadata["gunwatch.proposal_max_side"]), mode=metadata["gunwatch.proposal_mode"],
                limit=int(metadata["gunwatch.proposal_limit"]))
        except (KeyError, ValueError) as error:
            raise ModelError(f"{path}: fast-rcnn metadata missing or malformed ({error})") from error
        if len(self.stds) != 4:
            raise ModelError(f"{path}: metadata 'gunwatch.box_stds' needs 4 numbers, not {self.stds}")
        threads = session.get_session_options().intra_op_num_threads
        self.search_threads = threads or None
        self.proposals_per_image: list[int] = []

    def propose(self, image: np.ndarray) -> np.ndarray:
        """Selective search boxes (N, 4) in the image's pixels."""
        return selective_search(image, self.proposal_settings, self.search_threads)

    def regions(self, image: np.ndarray) -> int:
        """Proposals the network scores for `image` (the benchmark's regions per image)."""
        return len(self.propose(image))

    def detect_with_proposals(self, image: np.ndarray, proposals: np.ndarray) -> Detections:
        """The network and decoding alone, on proposals given in the image's pixels (timing, tests)."""
        proposals = np.asarray(proposals, np.float32).reshape(-1, 4)
        if not len(proposals):
            return Detections()
        height, width = image.shape[:2]
        scale = input_scale(height, width, self.min_side, self.max_side)
        rois = proposals * np.float32(scale)
        probabilities, deltas = self.session.run(None, {"image": to_input(scale_image(image, scale)), "rois": rois})
        return postprocess(probabilities, deltas, rois, scale, image.shape, self.stds, self.nms_iou,
                           self.max_detections)

    def detect(self, images: list[np.ndarray]) -> list[Detections]:
        results, counts = [], []
        for image in images:
            proposals = self.propose(image)
            counts.append(len(proposals))
            results.append(self.detect_with_proposals(image, proposals))
        self.proposals_per_image = counts
        return results
