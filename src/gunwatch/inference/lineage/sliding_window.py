"""Sliding windows + NMS on ONNX Runtime (the course's first detector after the localizer).

The exported window classifier is fully convolutional (`gunwatch.models.lineage.sliding_window`): run once
on an image resized by one pyramid scale, each output cell is the classifier's answer for one window of
`window` x `window` pixels of the resized image, windows `stride` pixels apart. Every window's box is
refined by the box head, mapped back to the image's pixels, and the windows of all scales go through NMS.

`naive_windows` is the same detector the slow way, for the benchmark and the tests: it crops every window
of the same grid and classifies each crop on its own; its scores equal the convolutional form's.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import onnxruntime as ort
from PIL import Image

from gunwatch import GUN_LABEL
from gunwatch.inference.detections import Detections
from gunwatch.inference.nms import nms
from gunwatch.inference.onnx_session import ModelError, gunwatch_metadata, metadata_float
from gunwatch.inference.preprocess import to_nchw_float

KIND = "sliding-window"


# --- geometry (shared with training) ---------------------------------------------------------------------


def pyramid_scales(smallest_side: float, largest_side: float, window: int, step: float) -> list[float]:
    """Scales, largest first, at which a window covers squares of side `smallest_side`, `smallest_side * step`,
    ... up to the first one that reaches `largest_side` (image pixels)."""
    count = max(1, math.ceil(math.log(largest_side / smallest_side) / math.log(step) - 1e-9) + 1)
    return [window / (smallest_side * step**k) for k in range(count)]


def image_levels(height: int, width: int, scales: list[float], window: int, step: float) -> list[tuple[int, int]]:
    """(height, width) of each resized copy of an image: every scale at which a window fits in the image,
    and the scale whose window is the image's shorter side when the last one falls short of it by more than
    half a pyramid step (so a gun filling the image meets a window too)."""
    levels = [(round(height * s), round(width * s)) for s in scales]
    levels = [(h, w) for h, w in levels if min(h, w) >= window]
    shorter = min(height, width)
    covered = window * shorter / min(levels[-1]) if levels else 0.0  # image pixels of the last level's window
    if shorter > covered * math.sqrt(step) or not levels:
        s = window / shorter
        levels.append((max(window, round(height * s)), max(window, round(width * s))))
    return levels


def grid_shape(height: int, width: int, window: int, stride: int) -> tuple[int, int]:
    """Rows and columns of windows of a `height` x `width` image (what the network's output has)."""
    return (height - window) // stride + 1, (width - window) // stride + 1


def grid_windows(rows: int, cols: int, window: int, stride: int) -> np.ndarray:
    """xyxy of each window, row by row (the order of the network's output cells flattened)."""
    ys, xs = np.meshgrid(np.arange(rows) * stride, np.arange(cols) * stride, indexing="ij")
    x1, y1 = xs.reshape(-1).astype(np.float32), ys.reshape(-1).astype(np.float32)
    return np.stack((x1, y1, x1 + window, y1 + window), axis=1)


def refine(windows: np.ndarray, deltas: np.ndarray, window: int) -> np.ndarray:
    """Boxes from windows and box deltas (gun corners minus window corners, over the window side)."""
    return windows + deltas * np.float32(window)


def to_image_pixels(boxes: np.ndarray, level: tuple[int, int], height: int, width: int) -> np.ndarray:
    """Boxes in a resized level's pixels back to the original image's pixels, clipped to it."""
    sx, sy = level[1] / width, level[0] / height
    out = boxes / np.array([sx, sy, sx, sy], np.float32)
    return np.clip(out, 0, np.array([width, height, width, height], np.float32))


def resize_to(image: np.ndarray, height: int, width: int) -> np.ndarray:
    """HxWx3 uint8 RGB to height x width, bilinear (the resampling training crops use too)."""
    if image.shape[:2] == (height, width):
        return image
    return np.asarray(Image.fromarray(image).resize((width, height), Image.BILINEAR))


# --- runtime ---------------------------------------------------------------------------------------------


class OnnxSlidingWindow:
    """Detector: the window classifier over every window of an image pyramid, then NMS."""

    def __init__(self, path: Path, session: ort.InferenceSession):
        metadata = gunwatch_metadata(session)
        self.name = path.stem
        self.session = session
        self.window = int(metadata_float(metadata, "gunwatch.window", path))
        self.stride = int(metadata_float(metadata, "gunwatch.stride", path))
        self.step = metadata_float(metadata, "gunwatch.pyramid_step", path)
        try:
            self.scales = [float(s) for s in metadata["gunwatch.pyramid_scales"].split(",")]
        except (KeyError, ValueError) as error:
            raise ModelError(f"{path}: metadata 'gunwatch.pyramid_scales' missing or not numbers") from error
        self.nms_iou = metadata_float(metadata, "gunwatch.nms_iou", path, default=0.4)
        self.pre_nms_top_k = int(metadata_float(metadata, "gunwatch.pre_nms_top_k", path, default=1000))
        self.max_detections = int(metadata_float(metadata, "gunwatch.max_detections", path, default=100))
        self.input_size = self.window
        self.threshold = metadata_float(metadata, "gunwatch.threshold", path, default=0.5)
        self.class_names = tuple(n.strip() for n in metadata.get("gunwatch.classes", GUN_LABEL).split(","))
        if len(self.class_names) != 1:
            raise ModelError(f"{path}: a sliding-window model has one class, metadata names {self.class_names}")
        self.windows_last: list[int] = []  # windows evaluated per image by the last detect call

    def levels(self, height: int, width: int) -> list[tuple[int, int]]:
        return image_levels(height, width, self.scales, self.window, self.step)

    def windows_per_image(self, height: int, width: int) -> int:
        """How many windows the classifier answers for an image of this size (the 'proposals per image')."""
        return sum(math.prod(grid_shape(h, w, self.window, self.stride)) for h, w in self.levels(height, width))

    def regions(self, image: np.ndarray) -> int:
        """Windows the classifier answers for `image` (the benchmark's regions per image)."""
        return self.windows_per_image(*image.shape[:2])

    def run_level(self, image: np.ndarray, level: tuple[int, int]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(windows xyxy in the level's pixels, gun probability, refined boxes in the level's pixels)."""
        probability, deltas = self.session.run(None, {"images": to_nchw_float([resize_to(image, *level)])})
        rows, cols = probability.shape[1:]
        windows = grid_windows(rows, cols, self.window, self.stride)
        boxes = refine(windows, deltas[0].reshape(4, -1).T, self.window)
        return windows, probability[0].reshape(-1), boxes

    def detect(self, images: list[np.ndarray]) -> list[Detections]:
        found, self.windows_last = [], []
        for image in images:
            height, width = image.shape[:2]
            scores, boxes = [], []
            for level in self.levels(height, width):
                _, p, b = self.run_level(image, level)
                scores.append(p)
                boxes.append(to_image_pixels(b, level, height, width))
            score, box = np.concatenate(scores), np.concatenate(boxes)
            self.windows_last.append(len(score))
            found.append(self.suppress(box, score))
        return found

    def suppress(self, boxes: np.ndarray, scores: np.ndarray) -> Detections:
        """The best `pre_nms_top_k` windows through NMS, at most `max_detections` kept, best first."""
        top = np.argsort(-scores, kind="stable")[: self.pre_nms_top_k]
        keep = top[nms(boxes[top], scores[top], self.nms_iou)][: self.max_detections]
        return Detections(boxes[keep], scores[keep], np.zeros(len(keep), np.int64))


def naive_windows(detector: OnnxSlidingWindow, image: np.ndarray, batch: int = 256) -> tuple[np.ndarray, np.ndarray]:
    """The slow form: every window of the same pyramid grid cropped and classified on its own.

    Returns (windows xyxy in the image's pixels, gun probability of each), in the order the convolutional
    form's cells come in (level by level, row by row); the count is the windows per image.
    """
    height, width = image.shape[:2]
    all_windows, all_scores = [], []
    w = detector.window
    for level in detector.levels(height, width):
        resized = resize_to(image, *level)
        windows = grid_windows(*grid_shape(*level, w, detector.stride), w, detector.stride)
        crops = [resized[int(y) : int(y) + w, int(x) : int(x) + w] for x, y, _, _ in windows]
        for start in range(0, len(crops), batch):
            probability, _ = detector.session.run(None, {"images": to_nchw_float(crops[start : start + batch])})
            all_scores.append(probability.reshape(-1))
        all_windows.append(to_image_pixels(windows, level, height, width))
    return np.concatenate(all_windows), np.concatenate(all_scores)
