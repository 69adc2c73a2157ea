"""Input normalisation shared by the metrics modules (private)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from gunwatch.boxes import as_boxes


def as_pred(pred: Any) -> tuple[np.ndarray, np.ndarray]:
    """(boxes, scores) from a ``(boxes, scores)`` pair or anything with ``.xyxy`` and ``.scores``.

    Scores keep their floating dtype on purpose: ``float32 >= 0.7`` is evaluated in float32 under
    numpy 2, exactly as ``Detections.above`` does, so thresholds agree with the rest of gunwatch.
    """
    if hasattr(pred, "xyxy") and hasattr(pred, "scores"):
        boxes, scores = pred.xyxy, pred.scores
    else:
        boxes, scores = pred
    boxes = as_boxes(boxes)
    scores = np.asarray(scores).reshape(-1)
    if not np.issubdtype(scores.dtype, np.floating):
        scores = scores.astype(np.float64)
    if len(boxes) != len(scores):
        raise ValueError(f"prediction has {len(boxes)} boxes but {len(scores)} scores")
    return boxes, scores


def check_lengths(**sequences: Sequence[Any]) -> int:
    """The common length of per-image sequences; a mismatch would silently misalign images."""
    lengths = {name: len(seq) for name, seq in sequences.items()}
    if len(set(lengths.values())) > 1:
        raise ValueError(f"per-image sequences differ in length: {lengths}")
    return next(iter(lengths.values()), 0)
