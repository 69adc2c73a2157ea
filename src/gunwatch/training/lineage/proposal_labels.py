"""Proposals labelled against the ground-truth guns by IoU, and the mini-batch sampled from them.

R-CNN fine-tuning and Fast R-CNN (Girshick 2015, section 2.3): a proposal is foreground when its best IoU
with a gun is >= `fg_iou` (0.5), background when it lies in [`bg_lo`, `bg_hi`) ([0.1, 0.5): the lower
bound keeps easy, far-away backgrounds out, as a crude hard-example mining), and ignored otherwise; a
mini-batch takes up to `fg_fraction` (25 %) foreground and fills the rest with background. In training the
ground-truth boxes join the proposals, as both papers do, so every gun image has foreground.
R-CNN's SVMs use other thresholds (positives: the ground truth only; negatives: IoU < 0.3); they are the
same function with other arguments.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from gunwatch.boxes import box_iou

FOREGROUND, BACKGROUND, IGNORED = 1, 0, -1


@dataclass(frozen=True)
class ProposalLabels:
    labels: np.ndarray  # (N,) int64: FOREGROUND, BACKGROUND or IGNORED
    matched: np.ndarray  # (N,) int64: index of the gun of best IoU, -1 on a gun-free image
    iou: np.ndarray  # (N,) float64: that best IoU (0 on a gun-free image)


def with_ground_truth(proposals: np.ndarray, gt_boxes: np.ndarray) -> np.ndarray:
    """The ground-truth boxes first, then the proposals: (G + N, 4) float32."""
    return np.concatenate([np.asarray(gt_boxes, np.float32).reshape(-1, 4),
                           np.asarray(proposals, np.float32).reshape(-1, 4)])


def label_proposals(proposals: np.ndarray, gt_boxes: np.ndarray, fg_iou: float = 0.5, bg_lo: float = 0.1,
                    bg_hi: float = 0.5) -> ProposalLabels:
    """Each proposal's label by its best IoU with a gun: >= fg_iou foreground, in [bg_lo, bg_hi) background,
    otherwise ignored. On a gun-free image every proposal has IoU 0: background when bg_lo is 0, and for
    any bg_lo too (a gun-free image has nothing to be near, so its proposals are true background)."""
    proposals = np.asarray(proposals, np.float64).reshape(-1, 4)
    gt_boxes = np.asarray(gt_boxes, np.float64).reshape(-1, 4)
    n = len(proposals)
    if not len(gt_boxes):
        return ProposalLabels(np.full(n, BACKGROUND, np.int64), np.full(n, -1, np.int64), np.zeros(n))
    overlaps = box_iou(proposals, gt_boxes)
    matched = overlaps.argmax(axis=1).astype(np.int64)
    iou = overlaps[np.arange(n), matched]
    labels = np.full(n, IGNORED, np.int64)
    labels[(iou >= bg_lo) & (iou < bg_hi)] = BACKGROUND
    labels[iou >= fg_iou] = FOREGROUND
    return ProposalLabels(labels, matched, iou)


def sample_minibatch(labels: np.ndarray, batch_size: int, fg_fraction: float,
                     rng: np.random.Generator) -> np.ndarray:
    """Indices of a mini-batch: up to round(batch_size * fg_fraction) foreground drawn without replacement,
    the rest background (fewer in all when there are not enough). Foreground first, then background."""
    labels = np.asarray(labels)
    foreground = np.flatnonzero(labels == FOREGROUND)
    background = np.flatnonzero(labels == BACKGROUND)
    n_fg = min(len(foreground), round(batch_size * fg_fraction))
    n_bg = min(len(background), batch_size - n_fg)
    return np.concatenate([rng.choice(foreground, n_fg, replace=False),
                           rng.choice(background, n_bg, replace=False)]).astype(np.int64)


@dataclass(frozen=True)
class SampledRois:
    boxes: np.ndarray  # (B, 4) float32 proposals (ground truth included)
    labels: np.ndarray  # (B,) int64 FOREGROUND or BACKGROUND
    gt_boxes: np.ndarray  # (B, 4) float32 the matched gun of each (zeros for background)


def sample_training_rois(proposals: np.ndarray, gt_boxes: np.ndarray, batch_size: int, fg_fraction: float,
                         rng: np.random.Generator, fg_iou: float = 0.5, bg_lo: float = 0.1,
                         bg_hi: float = 0.5) -> SampledRois:
    """One image's training RoIs, as Fast R-CNN samples them: ground truth joined, labelled, sampled."""
    gt_boxes = np.asarray(gt_boxes, np.float32).reshape(-1, 4)
    boxes = with_ground_truth(proposals, gt_boxes)
    labelled = label_proposals(boxes, gt_boxes, fg_iou, bg_lo, bg_hi)
    chosen = sample_minibatch(labelled.labels, batch_size, fg_fraction, rng)
    labels = labelled.labels[chosen]
    matched = np.zeros((len(chosen), 4), np.float32)
    foreground = labels == FOREGROUND
    matched[foreground] = gt_boxes[labelled.matched[chosen][foreground]]
    return SampledRois(boxes[chosen], labels, matched)
