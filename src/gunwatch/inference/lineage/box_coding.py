"""R-CNN's box regression parameterisation (Girshick et al. 2014, appendix C), in numpy for the runtimes.

A proposal P (centre px, py, size pw, ph) and a target G are coded as
    dx = (gx - px) / pw,  dy = (gy - py) / ph,  dw = log(gw / pw),  dh = log(gh / ph),
scale-invariant in the centre and log-space in the size. Fast and Faster R-CNN normalise the deltas by
means and standard deviations (0, 0, 0, 0) and (0.1, 0.1, 0.2, 0.2) so the regression loss is balanced
with the classification's; `means` / `stds` do that (the defaults leave the deltas raw). Decoding clips
dw, dh at log(1000 / 16) as the reference implementations do, so a wild delta cannot overflow exp.
Widths are x2 - x1 (continuous coordinates), not the papers' legacy x2 - x1 + 1.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

MAX_LOG_SCALE = math.log(1000.0 / 16.0)
RAW = (0.0, 0.0, 0.0, 0.0), (1.0, 1.0, 1.0, 1.0)


def _centres(boxes: np.ndarray) -> tuple[np.ndarray, ...]:
    width, height = boxes[:, 2] - boxes[:, 0], boxes[:, 3] - boxes[:, 1]
    return boxes[:, 0] + 0.5 * width, boxes[:, 1] + 0.5 * height, width, height


def encode(proposals: np.ndarray, targets: np.ndarray, means: Sequence[float] = RAW[0],
           stds: Sequence[float] = RAW[1]) -> np.ndarray:
    """Deltas (N, 4) float32 that take each proposal to its target (both xyxy, positive size)."""
    proposals = np.asarray(proposals, np.float64).reshape(-1, 4)
    targets = np.asarray(targets, np.float64).reshape(-1, 4)
    px, py, pw, ph = _centres(proposals)
    gx, gy, gw, gh = _centres(targets)
    deltas = np.stack([(gx - px) / pw, (gy - py) / ph, np.log(gw / pw), np.log(gh / ph)], axis=1)
    return ((deltas - np.asarray(means, np.float64)) / np.asarray(stds, np.float64)).astype(np.float32)


def decode(proposals: np.ndarray, deltas: np.ndarray, means: Sequence[float] = RAW[0],
           stds: Sequence[float] = RAW[1], max_log_scale: float = MAX_LOG_SCALE) -> np.ndarray:
    """Boxes (N, 4) float32 xyxy: each proposal moved by its deltas (the inverse of `encode`)."""
    proposals = np.asarray(proposals, np.float64).reshape(-1, 4)
    deltas = np.asarray(deltas, np.float64).reshape(-1, 4) * np.asarray(stds, np.float64) + np.asarray(
        means, np.float64)
    px, py, pw, ph = _centres(proposals)
    cx, cy = px + deltas[:, 0] * pw, py + deltas[:, 1] * ph
    w = pw * np.exp(np.minimum(deltas[:, 2], max_log_scale))
    h = ph * np.exp(np.minimum(deltas[:, 3], max_log_scale))
    return np.stack([cx - 0.5 * w, cy - 0.5 * h, cx + 0.5 * w, cy + 0.5 * h], axis=1).astype(np.float32)


def clip_boxes(boxes: np.ndarray, width: int, height: int) -> np.ndarray:
    """Boxes clipped to an image of `width` x `height` pixels."""
    boxes = np.asarray(boxes, np.float32).reshape(-1, 4).copy()
    boxes[:, [0, 2]] = boxes[:, [0, 2]].clip(0, width)
    boxes[:, [1, 3]] = boxes[:, [1, 3]].clip(0, height)
    return boxes
