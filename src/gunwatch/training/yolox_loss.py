"""YOLOX's loss with SimOTA label assignment (after Megvii YOLOX `yolox/models/yolo_head.py`, Apache-2.0).

Per image, SimOTA picks which output points learn which ground-truth box: candidates are points whose
centre lies in the box or within `center_radius` strides of its centre; each box takes its `k` cheapest
candidates (cost = class BCE + 3 x -log IoU, huge outside box-and-centre), with `k` the sum of its top-10
IoUs; a point claimed by two boxes goes to the cheaper one. Then:

- box: 1 - IoU^2 on the assigned points,
- objectness: BCE on every point (1 on assigned points, 0 elsewhere),
- class: BCE on the assigned points against one-hot x IoU (IoU-aware targets),

each divided by the number of assigned points; box weighted `box_weight` (5 in YOLOX).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor

from gunwatch.inference.onnx_yolox import STRIDES, grid_and_strides

CENTER_RADIUS = 2.5
TOP_CANDIDATES = 10
IOU_COST_WEIGHT = 3.0
OUTSIDE_COST = 1e5


@dataclass(frozen=True)
class Target:
    """Ground truth of one training image: xyxy boxes in input pixels and their class ids."""

    boxes: Tensor  # (K, 4) float
    classes: Tensor  # (K,) long


def xyxy_to_cxcywh(boxes: Tensor) -> Tensor:
    return torch.cat(((boxes[:, :2] + boxes[:, 2:]) / 2, boxes[:, 2:] - boxes[:, :2]), dim=1)


def cxcywh_iou(a: Tensor, b: Tensor, pairwise: bool = True) -> Tensor:
    """IoU of cx, cy, w, h boxes: (len(a), len(b)) when pairwise, else element by element."""
    if pairwise:
        a, b = a[:, None, :], b[None, :, :]
    top_left = torch.maximum(a[..., :2] - a[..., 2:] / 2, b[..., :2] - b[..., 2:] / 2)
    bottom_right = torch.minimum(a[..., :2] + a[..., 2:] / 2, b[..., :2] + b[..., 2:] / 2)
    inter = (bottom_right - top_left).clamp(min=0).prod(dim=-1)
    union = a[..., 2:].prod(dim=-1) + b[..., 2:].prod(dim=-1) - inter
    return inter / union.clamp(min=1e-9)


@dataclass(frozen=True)
class Assignment:
    foreground: Tensor  # (P,) bool: points that learn a box
    matched_gt: Tensor  # (F,) index of the box each foreground point learns
    matched_iou: Tensor  # (F,) its predicted box's IoU with that box (the class target)


@torch.no_grad()
def simota_assign(
    pred_boxes: Tensor,
    cls_logits: Tensor,
    obj_logits: Tensor,
    centres: Tensor,
    strides: Tensor,
    target: Target,
    center_radius: float = CENTER_RADIUS,
) -> Assignment:
    """Assign points to the boxes of one image. pred_boxes (P, 4) cxcywh pixels, centres (P, 2), strides (P,)."""
    points = len(pred_boxes)
    gt = xyxy_to_cxcywh(target.boxes.float())
    x, y = centres[:, 0], centres[:, 1]
    in_box = (
        (x[None] > target.boxes[:, None, 0]) & (x[None] < target.boxes[:, None, 2])
        & (y[None] > target.boxes[:, None, 1]) & (y[None] < target.boxes[:, None, 3])
    )  # fmt: skip
    radius = center_radius * strides[None]
    in_centre = ((x[None] - gt[:, None, 0]).abs() < radius) & ((y[None] - gt[:, None, 1]).abs() < radius)
    candidate = (in_box | in_centre).any(dim=0)
    if not candidate.any():
        device = pred_boxes.device
        empty = torch.zeros(points, dtype=torch.bool, device=device)
        return Assignment(empty, torch.zeros(0, dtype=torch.long, device=device), torch.zeros(0, device=device))
    both = (in_box & in_centre)[:, candidate]

    ious = cxcywh_iou(gt, pred_boxes[candidate].float())  # (K, C)
    scores = (cls_logits[candidate].float().sigmoid() * obj_logits[candidate, None].float().sigmoid()).sqrt()
    one_hot = F.one_hot(target.classes, cls_logits.shape[1]).float()  # (K, classes)
    cls_cost = F.binary_cross_entropy(
        scores[None].expand(len(gt), -1, -1).clamp(1e-6, 1 - 1e-6),
        one_hot[:, None, :].expand(-1, scores.shape[0], -1),
        reduction="none",
    ).sum(dim=-1)
    cost = cls_cost + IOU_COST_WEIGHT * -torch.log(ious + 1e-8) + OUTSIDE_COST * (~both).float()

    top = min(TOP_CANDIDATES, ious.shape[1])
    dynamic_k = ious.topk(top, dim=1).values.sum(dim=1).int().clamp(min=1)
    matching = torch.zeros_like(cost, dtype=torch.bool)
    for g in range(len(gt)):
        cheapest = cost[g].topk(int(dynamic_k[g]), largest=False).indices
        matching[g, cheapest] = True
    contested = matching.sum(dim=0) > 1
    if contested.any():
        cheapest_gt = cost[:, contested].argmin(dim=0)
        matching[:, contested] = False
        matching[cheapest_gt, contested.nonzero().squeeze(1)] = True
    matched = matching.any(dim=0)
    matched_gt = matching[:, matched].float().argmax(dim=0)
    matched_iou = ious[:, matched][matched_gt, torch.arange(len(matched_gt), device=ious.device)]

    foreground = torch.zeros(points, dtype=torch.bool, device=pred_boxes.device)
    foreground[candidate.nonzero().squeeze(1)[matched]] = True
    return Assignment(foreground, matched_gt, matched_iou)


def yolox_loss(
    levels: Sequence[Tensor], targets: Sequence[Target], strides: Sequence[int] = STRIDES, box_weight: float = 5.0
) -> dict[str, Tensor]:
    """levels: raw head outputs per stride, [N, 4 + 1 + C, H/s, W/s]. Returns loss and its parts."""
    batch, channels = levels[0].shape[:2]
    image_size = (levels[0].shape[2] * strides[0], levels[0].shape[3] * strides[0])
    raw = torch.cat([level.flatten(start_dim=2) for level in levels], dim=2).permute(0, 2, 1)  # [N, P, 5 + C]
    grid_np, stride_np = grid_and_strides(image_size, tuple(strides))
    grid, stride = torch.from_numpy(grid_np).to(raw), torch.from_numpy(stride_np).to(raw)
    pred_boxes = torch.cat(((raw[..., :2] + grid) * stride, raw[..., 2:4].exp() * stride), dim=-1)
    obj_logits, cls_logits = raw[..., 4], raw[..., 5:]
    centres, point_strides = (grid + 0.5) * stride, stride[:, 0]

    obj_targets = torch.zeros_like(obj_logits)
    fg_boxes, fg_targets, fg_cls_logits, fg_cls_targets = [], [], [], []
    for b, target in enumerate(targets):
        if not len(target.boxes):
            continue
        found = simota_assign(
            pred_boxes[b].detach(), cls_logits[b].detach(), obj_logits[b].detach(), centres, point_strides, target
        )
        obj_targets[b, found.foreground] = 1.0
        fg_boxes.append(pred_boxes[b, found.foreground])
        fg_targets.append(xyxy_to_cxcywh(target.boxes.float())[found.matched_gt])
        fg_cls_logits.append(cls_logits[b, found.foreground])
        one_hot = F.one_hot(target.classes[found.matched_gt], channels - 5).float()
        fg_cls_targets.append(one_hot * found.matched_iou[:, None])

    num_fg = max(sum(len(t) for t in fg_targets), 1)
    loss_obj = F.binary_cross_entropy_with_logits(obj_logits, obj_targets, reduction="sum") / num_fg
    if fg_boxes:
        ious = cxcywh_iou(torch.cat(fg_boxes), torch.cat(fg_targets), pairwise=False)
        loss_box = (1 - ious.pow(2)).sum() / num_fg
        loss_cls = F.binary_cross_entropy_with_logits(
            torch.cat(fg_cls_logits), torch.cat(fg_cls_targets), reduction="sum"
        ) / num_fg
    else:
        loss_box = loss_cls = raw.sum() * 0.0
    loss = box_weight * loss_box + loss_obj + loss_cls
    return {"loss": loss, "box": loss_box.detach(), "obj": loss_obj.detach(), "cls": loss_cls.detach(),
            "foreground": torch.tensor(float(num_fg) / max(batch, 1))}
