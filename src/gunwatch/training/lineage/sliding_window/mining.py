"""Hard-negative mining, the classic sliding-window step (Dalal & Triggs): run the classifier over every window
of the pyramid of some training images and keep the gun-free windows it scores highest as new negatives.

Random negatives are mostly easy (sky, wall); an image has thousands of windows, and the one that flags a
gun-free image is its highest-scoring one. Mined windows are kept as boxes (record index -> windows), so they
travel in the checkpoint and are cropped again with each epoch's fresh windows.

The classifier scores the pyramid through its ONNX export and the runtime (`OnnxSlidingWindow`): the windows
and scores the detector will have, and several times faster on CPU than PyTorch on whole images.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from tqdm import tqdm

from gunwatch.boxes import box_iou
from gunwatch.data.images import load_rgb
from gunwatch.data.records import ImageRecord
from gunwatch.inference.lineage.sliding_window import OnnxSlidingWindow, to_image_pixels
from gunwatch.inference.nms import nms
from gunwatch.inference.onnx_session import open_session
from gunwatch.models.lineage.sliding_window import WindowClassifier
from gunwatch.training.lineage.sliding_window.config import SlidingWindowTrainConfig
from gunwatch.training.lineage.sliding_window.export import export_sliding_window
from gunwatch.training.lineage.sliding_window.windows import gun_squares

PRE_NMS = 200


def runtime_of(model: WindowClassifier, scales: list[float], config: SlidingWindowTrainConfig,
               path: Path) -> OnnxSlidingWindow:
    """The model as the detector runs it: exported to `path`, opened with the run's threads."""
    export_sliding_window(model, scales, config, path)
    return OnnxSlidingWindow(path, open_session(path, config.threads))


def score_windows(detector: OnnxSlidingWindow, image: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Every window of the image's pyramid (xyxy in its pixels) and its gun probability."""
    height, width = image.shape[:2]
    boxes, scores = [], []
    for level in detector.levels(height, width):
        windows, probability, _ = detector.run_level(image, level)
        boxes.append(to_image_pixels(windows, level, height, width))
        scores.append(probability)
    return np.concatenate(boxes), np.concatenate(scores)


def mine_hard_negatives(detector: OnnxSlidingWindow, records: list[ImageRecord], config: SlidingWindowTrainConfig,
                        rng: np.random.Generator) -> dict[int, list[list[float]]]:
    """Up to `hard_negatives_per_image` windows per mined image (after NMS) scoring >= `mining_min_score` whose
    IoU with every gun's square is < negative_iou; images drawn at random, `mining_images` of them."""
    picked = sorted(rng.choice(len(records), size=min(config.mining_images, len(records)), replace=False).tolist())
    mined: dict[int, list[list[float]]] = {}
    for index in tqdm(picked, desc="mining", unit="img", leave=False):
        record = records[index]
        image = load_rgb(record.image_path)
        height, width = image.shape[:2]
        boxes, scores = score_windows(detector, image)
        guns = record.gun_boxes * np.array([width / record.width, height / record.height] * 2)
        if len(guns):
            away = box_iou(boxes, gun_squares(guns, width, height)).max(1) < config.negative_iou
            boxes, scores = boxes[away], scores[away]
        top = np.argsort(-scores, kind="stable")[:PRE_NMS]
        kept = top[nms(boxes[top], scores[top], 0.3)][: config.hard_negatives_per_image]
        kept = kept[scores[kept] >= config.mining_min_score]
        if len(kept):
            mined[index] = boxes[kept].astype(float).tolist()
    return mined


def merge(pool: dict[int, list[list[float]]], new: dict[int, list[list[float]]],
          cap: int) -> dict[int, list[list[float]]]:
    """The pool with the new windows; per image, the newest `cap` windows are kept."""
    merged = {index: list(windows) for index, windows in pool.items()}
    for index, windows in new.items():
        merged[index] = (merged.get(index, []) + windows)[-cap:]
    return merged
