"""Pick the images worth looking at: the worst missed guns and the most confident false alarms."""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

import numpy as np

from gunwatch.metrics._inputs import as_boxes, as_pred, check_lengths
from gunwatch.metrics.iou import best_iou_per_gt


class WorstCases(NamedTuple):
    """Image indices, worst first. A NamedTuple so ``misses, alarms = select_worst(...)`` works."""

    misses: tuple[int, ...]
    false_alarms: tuple[int, ...]


def select_worst(
    gt_per_image: Sequence[np.ndarray],
    pred_per_image: Sequence[tuple[np.ndarray, np.ndarray]],
    threshold: float,
    n: int = 8,
    iou_threshold: float = 0.5,
) -> WorstCases:
    """The ``n`` worst misses and the ``n`` worst false alarms at ``threshold``.

    Misses: gun images where some gun's best IoU with a prediction scoring >= ``threshold`` is below
    ``iou_threshold``, ordered by that worst gun's best IoU ascending (ties: the image's mean best IoU,
    then index), so images where nothing was found come first. Well-detected images are never listed.
    False alarms: gun-free images with a prediction >= ``threshold``, by their highest score descending.
    """
    check_lengths(gt=gt_per_image, pred=pred_per_image)
    miss_keys: list[tuple[float, float, int]] = []
    alarm_keys: list[tuple[float, int]] = []
    for index, (gt, pred) in enumerate(zip(gt_per_image, pred_per_image, strict=True)):
        gt = as_boxes(gt)
        boxes, scores = as_pred(pred)
        keep = scores >= threshold
        if len(gt):
            best = best_iou_per_gt(gt, boxes[keep])
            if best.min() < iou_threshold:
                miss_keys.append((float(best.min()), float(best.mean()), index))
        elif keep.any():
            alarm_keys.append((-float(scores[keep].max()), index))
    return WorstCases(
        misses=tuple(key[-1] for key in sorted(miss_keys)[:n]),
        false_alarms=tuple(key[-1] for key in sorted(alarm_keys)[:n]),
    )
