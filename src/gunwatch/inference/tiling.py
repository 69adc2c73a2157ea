"""Tiled inference for frames much larger than the model input, so a gun a few dozen pixels wide is seen.

A 1080p frame squeezed into a 416 px input shrinks a 25 px gun to 5 px, below what a stride-8 detector
finds. Tiling runs the model on overlapping crops at the frame's own resolution, plus the whole frame
(for objects larger than a tile), and merges the results:

1. The tile plan: square tiles of the model's input side, overlapping by at least `overlap` of a side,
   spread evenly so the first and last touch the frame's edges.
2. A detection touching a tile's inner edge (an edge that is not the frame's) is cut by the tile; the
   neighbouring tile, which overlaps it, sees the whole object, so the cut copy is dropped.
3. Class-aware NMS over everything that is left; then a box mostly inside a higher-scoring box of the
   same class (intersection over the smaller area above `containment`) is dropped too, which catches the
   whole-frame pass and a tile describing one object with boxes of different sizes.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

import numpy as np

from gunwatch.boxes import box_ios
from gunwatch.inference.base import Detector
from gunwatch.inference.detections import Detections
from gunwatch.inference.nms import batched_nms, class_separated, greedy_keep

TileMode = Literal["auto", "off", "on"]
DEFAULT_OVERLAP = 0.2
# A box edge within this many pixels of an inner tile edge counts as cut by it.
EDGE_MARGIN = 2.0
MERGE_IOU = 0.45
CONTAINMENT = 0.8
# `auto` tiles a frame whose longer side exceeds this many model input sides.
AUTO_TILE_FACTOR = 2.0


@dataclass(frozen=True)
class Tile:
    x1: int
    y1: int
    x2: int
    y2: int


def axis_starts(length: int, tile: int, overlap: float) -> list[int]:
    """Start offsets of tiles of side `tile` covering [0, length), evenly spread, overlapping >= overlap."""
    if length <= tile:
        return [0]
    stride = tile * (1 - overlap)
    count = math.ceil((length - tile) / stride) + 1
    step = (length - tile) / (count - 1)
    return [round(i * step) for i in range(count)]


def plan_tiles(width: int, height: int, tile_side: int, overlap: float = DEFAULT_OVERLAP) -> list[Tile]:
    """Tiles covering a width x height frame (row by row); a frame smaller than a tile gets one tile of itself."""
    if not 0 <= overlap < 1:
        raise ValueError(f"overlap must be in [0, 1), got {overlap}")
    return [
        Tile(x, y, min(x + tile_side, width), min(y + tile_side, height))
        for y in axis_starts(height, tile_side, overlap)
        for x in axis_starts(width, tile_side, overlap)
    ]


def should_tile(width: int, height: int, input_side: int, mode: TileMode) -> bool:
    if mode == "auto":
        return max(width, height) > AUTO_TILE_FACTOR * input_side
    return mode == "on"


def cut_by_tile(boxes: np.ndarray, tile: Tile, width: int, height: int, margin: float = EDGE_MARGIN) -> np.ndarray:
    """Mask of boxes (frame pixels) that touch an edge of `tile` lying inside the frame."""
    cut = np.zeros(len(boxes), dtype=bool)
    if tile.x1 > 0:
        cut |= boxes[:, 0] <= tile.x1 + margin
    if tile.y1 > 0:
        cut |= boxes[:, 1] <= tile.y1 + margin
    if tile.x2 < width:
        cut |= boxes[:, 2] >= tile.x2 - margin
    if tile.y2 < height:
        cut |= boxes[:, 3] >= tile.y2 - margin
    return cut


def merge_detections(parts: list[Detections], iou: float = MERGE_IOU, containment: float = CONTAINMENT) -> Detections:
    """One set of detections from several passes over the same frame (boxes already in frame pixels)."""
    merged = Detections(
        np.concatenate([p.xyxy for p in parts]) if parts else np.zeros((0, 4)),
        np.concatenate([p.scores for p in parts]) if parts else np.zeros(0),
        np.concatenate([p.class_ids for p in parts]) if parts else np.zeros(0),
    )
    merged = merged[batched_nms(merged.xyxy, merged.scores, merged.class_ids, iou)]  # best first
    return merged[greedy_keep(class_separated(merged.xyxy, merged.class_ids), box_ios, containment)]


class TiledDetector:
    """Wraps a Detector: frames large enough (see `mode`) go through tiles plus the whole frame.

    Every tile of every frame goes to the wrapped detector in one call, so a batching runtime runs them
    together. `tile_side` defaults to the model's input side (tiles are analysed at native resolution).
    """

    def __init__(self, detector: Detector, input_side: int, mode: TileMode = "auto",
                 overlap: float = DEFAULT_OVERLAP, tile_side: int | None = None):
        self.detector = detector
        self.name = f"{detector.name}+tiles"
        self.class_names = detector.class_names
        self.threshold = detector.threshold
        self.input_side = input_side
        self.mode = mode
        self.overlap = overlap
        self.tile_side = tile_side or input_side

    def plan(self, image: np.ndarray) -> list[Tile]:
        height, width = image.shape[:2]
        if not should_tile(width, height, self.input_side, self.mode):
            return []
        return plan_tiles(width, height, self.tile_side, self.overlap)

    def detect(self, images: list[np.ndarray]) -> list[Detections]:
        plans = [self.plan(image) for image in images]
        crops = [image for image in images]  # the whole frame is always one of the passes
        for image, tiles in zip(images, plans, strict=True):
            crops.extend(image[t.y1 : t.y2, t.x1 : t.x2] for t in tiles)
        found = self.detector.detect(crops)
        whole, per_tile = found[: len(images)], iter(found[len(images) :])
        results = []
        for image, tiles, frame_result in zip(images, plans, whole, strict=True):
            if not tiles:
                results.append(frame_result)
                continue
            height, width = image.shape[:2]
            parts = [frame_result]
            for tile in tiles:
                result = next(per_tile)
                boxes = result.xyxy + np.array([tile.x1, tile.y1, tile.x1, tile.y1], np.float32)
                shifted = Detections(boxes, result.scores, result.class_ids)
                parts.append(shifted[~cut_by_tile(boxes, tile, width, height)])
            results.append(merge_detections(parts))
        return results
