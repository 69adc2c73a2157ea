"""Training windows for the window classifier: jittered positives around each gun, negatives elsewhere.

A window is a square of the image, resized to the classifier's input side (the resampling the runtime
uses for a pyramid level). Whether it is a gun window is decided as the runtime's windows are matched:
by the IoU of the window with each gun's square (the gun's longer side, same centre, clipped to the image),
so a window of the wrong scale is not a positive even when it contains the gun.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from PIL import Image
from tqdm import tqdm

from gunwatch.boxes import box_iou
from gunwatch.data.images import load_rgb
from gunwatch.data.records import ImageRecord
from gunwatch.training.lineage.sliding_window.config import SlidingWindowTrainConfig

TRIES = 20


@dataclass
class WindowSamples:
    """Window crops (uint8 N x 3 x S x S), gun / no gun, and the box deltas of the positives (zeros else)."""

    images: torch.Tensor
    is_gun: torch.Tensor  # N float 0/1
    deltas: torch.Tensor  # N x 4: (gun xyxy - window xyxy) / window side

    def __len__(self) -> int:
        return len(self.is_gun)


def gun_squares(guns: np.ndarray, width: int, height: int) -> np.ndarray:
    """Each gun's square: side = its longer side, same centre, clipped to the image."""
    guns = np.asarray(guns, np.float64).reshape(-1, 4)
    cx, cy = (guns[:, 0] + guns[:, 2]) / 2, (guns[:, 1] + guns[:, 3]) / 2
    half = np.maximum(guns[:, 2] - guns[:, 0], guns[:, 3] - guns[:, 1]) / 2
    squares = np.stack((cx - half, cy - half, cx + half, cy + half), axis=1)
    return np.clip(squares, 0, [width, height, width, height])


def place(cx: float, cy: float, side: float, width: int, height: int) -> np.ndarray:
    """A square window of `side` centred as near (cx, cy) as the image allows (side at most its shorter side)."""
    side = min(side, width, height)
    x1 = min(max(cx - side / 2, 0.0), width - side)
    y1 = min(max(cy - side / 2, 0.0), height - side)
    return np.array([x1, y1, x1 + side, y1 + side])


def positive_windows(guns: np.ndarray, width: int, height: int, count: int, config: SlidingWindowTrainConfig,
                     rng: np.random.Generator) -> list[tuple[np.ndarray, np.ndarray]]:
    """(window, gun box) pairs: `count` jittered windows per gun whose IoU with its square is >= positive_iou."""
    squares = gun_squares(guns, width, height)
    pairs = []
    for gun, square in zip(guns, squares, strict=True):
        side0 = max(gun[2] - gun[0], gun[3] - gun[1])
        cx, cy = (gun[0] + gun[2]) / 2, (gun[1] + gun[3]) / 2
        found = 0
        for _ in range(TRIES * count):
            side = side0 * float(np.exp(rng.uniform(-config.jitter, config.jitter)))
            dx, dy = rng.uniform(-config.jitter, config.jitter, 2) * side
            window = place(cx + dx, cy + dy, side, width, height)
            if box_iou(window[None], square[None])[0, 0] >= config.positive_iou:
                pairs.append((window, np.asarray(gun, np.float64)))
                found += 1
                if found == count:
                    break
    return pairs


def negative_windows(guns: np.ndarray, width: int, height: int, count: int, config: SlidingWindowTrainConfig,
                     rng: np.random.Generator) -> list[np.ndarray]:
    """`count` windows of log-uniform side (min_gun_px .. the shorter side) and uniform position whose IoU
    with every gun's square is < negative_iou."""
    squares = gun_squares(guns, width, height)
    shorter = min(width, height)
    low = min(config.min_gun_px, shorter)
    windows = []
    for _ in range(TRIES * count):
        side = float(np.exp(rng.uniform(np.log(low), np.log(shorter))))
        x1, y1 = rng.uniform(0, width - side), rng.uniform(0, height - side)
        window = np.array([x1, y1, x1 + side, y1 + side])
        if not len(squares) or box_iou(window[None], squares).max() < config.negative_iou:
            windows.append(window)
            if len(windows) == count:
                break
    return windows


def near_negative_windows(guns: np.ndarray, width: int, height: int, count: int, config: SlidingWindowTrainConfig,
                          rng: np.random.Generator) -> list[np.ndarray]:
    """`count` windows per gun of about its scale (within a factor 2) and near it, whose IoU with every gun's
    square is still < negative_iou: half a gun, a gun off-centre, the hand beside it."""
    squares = gun_squares(guns, width, height)
    windows = []
    for gun in guns:
        side0 = max(gun[2] - gun[0], gun[3] - gun[1])
        cx, cy = (gun[0] + gun[2]) / 2, (gun[1] + gun[3]) / 2
        found = 0
        for _ in range(TRIES * count):
            side = side0 * float(np.exp(rng.uniform(-np.log(2), np.log(2))))
            dx, dy = rng.uniform(-1, 1, 2) * side
            window = place(cx + dx, cy + dy, side, width, height)
            if box_iou(window[None], squares).max() < config.negative_iou:
                windows.append(window)
                found += 1
                if found == count:
                    break
    return windows


def crop(image: Image.Image, window: np.ndarray, size: int) -> np.ndarray:
    """The window resized to size x size (bilinear, as a pyramid level is resized)."""
    return np.asarray(image.resize((size, size), Image.BILINEAR, box=tuple(float(v) for v in window)))


def sample_windows(records: list[ImageRecord], config: SlidingWindowTrainConfig, size: int,
                   rng: np.random.Generator, desc: str,
                   hard_negatives: dict[int, list[list[float]]] | None = None) -> WindowSamples:
    """One draw of windows from every record (decoded once each), in record order; `hard_negatives` adds
    mined negative windows (record index -> xyxy windows in its pixels)."""
    crops, labels, deltas = [], [], []
    for index, record in enumerate(tqdm(records, desc=desc, unit="img", leave=False)):
        image = Image.fromarray(load_rgb(record.image_path))
        width, height = image.size
        guns = record.gun_boxes.astype(np.float64)
        # Boxes are in the pixels of the image on disk; a decode at another size would be scaled here.
        guns = guns * np.array([width / record.width, height / record.height] * 2) if len(guns) else guns
        negatives = config.negatives_per_gun_image if len(guns) else config.negatives_per_gunfree_image
        for window, gun in positive_windows(guns, width, height, config.positives_per_gun, config, rng):
            crops.append(crop(image, window, size))
            labels.append(1.0)
            deltas.append((gun - window) / (window[2] - window[0]))
        near = near_negative_windows(guns, width, height, config.near_negatives_per_gun, config, rng)
        mined = [np.asarray(w, np.float64) for w in (hard_negatives or {}).get(index, [])]
        for window in [*near, *negative_windows(guns, width, height, negatives, config, rng), *mined]:
            crops.append(crop(image, window, size))
            labels.append(0.0)
            deltas.append(np.zeros(4))
    return WindowSamples(
        images=torch.from_numpy(np.stack(crops)).permute(0, 3, 1, 2).contiguous(),
        is_gun=torch.tensor(labels),
        deltas=torch.tensor(np.array(deltas), dtype=torch.float32),
    )
