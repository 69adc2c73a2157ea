"""Boxes and predictions written as short literals in metric tests."""

from __future__ import annotations

import numpy as np


def boxes(*rows: list[float]) -> np.ndarray:
    """xyxy rows as an (N, 4) float32 array; no rows gives an empty (0, 4) array."""
    return np.array(rows, dtype=np.float32).reshape(-1, 4)


def pred(rows: list[list[float]], scores: list[float]) -> tuple[np.ndarray, np.ndarray]:
    """A prediction as (boxes, float32 scores)."""
    return boxes(*rows), np.array(scores, dtype=np.float32)


NO_PRED = (boxes(), np.zeros(0, np.float32))
