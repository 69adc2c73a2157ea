"""The YOLOX decoupled head (network part of Megvii YOLOX `yolox/models/yolo_head.py`, Apache-2.0).

Per pyramid level: a 1x1 stem, then two separate branches of two 3x3 convs: one for classification
(-> `cls_preds`), one for regression (-> `reg_preds` for x, y, w, h and `obj_preds` for objectness).
Loss and label assignment are not here. Module names follow YOLOX's (lists indexed by level).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from torch import Tensor, nn

# The runtime's strides and point order, so training and inference decode alike.
from gunwatch.inference.onnx_yolox import STRIDES, grid_and_strides
from gunwatch.models.yolox.blocks import BaseConv, conv_block

REG_CHANNELS = 4  # x, y, w, h
OBJ_CHANNELS = 1


class YoloxHead(nn.Module):
    """Per level, raw outputs [N, 4 + 1 + num_classes, H, W]: box terms, objectness logit, class logits."""

    def __init__(self, num_classes: int, in_channels: Sequence[int], width: float = 1.0, depthwise: bool = False):
        super().__init__()
        self.num_classes = num_classes
        hidden = int(256 * width)
        self.stems = nn.ModuleList(BaseConv(c, hidden, 1) for c in in_channels)
        self.cls_convs = nn.ModuleList(self._branch(hidden, depthwise) for _ in in_channels)
        self.reg_convs = nn.ModuleList(self._branch(hidden, depthwise) for _ in in_channels)
        self.cls_preds = nn.ModuleList(nn.Conv2d(hidden, num_classes, 1) for _ in in_channels)
        self.reg_preds = nn.ModuleList(nn.Conv2d(hidden, REG_CHANNELS, 1) for _ in in_channels)
        self.obj_preds = nn.ModuleList(nn.Conv2d(hidden, OBJ_CHANNELS, 1) for _ in in_channels)
        self.initialize_biases()

    @staticmethod
    def _branch(channels: int, depthwise: bool) -> nn.Sequential:
        return nn.Sequential(*(conv_block(channels, channels, 3, 1, depthwise) for _ in range(2)))

    def initialize_biases(self, prior_prob: float = 1e-2) -> None:
        """Start objectness and class scores at `prior_prob` (focal-loss prior, as YOLOX does)."""
        bias = -math.log((1 - prior_prob) / prior_prob)
        for conv in (*self.cls_preds, *self.obj_preds):
            nn.init.constant_(conv.bias, bias)

    def forward(self, features: Sequence[Tensor]) -> list[Tensor]:
        return [self.forward_level(level, x) for level, x in enumerate(features)]

    def forward_level(self, level: int, x: Tensor) -> Tensor:
        # This call order (stem, cls branch, cls_pred, reg branch, reg_pred, obj_pred) is the exported graph's.
        x = self.stems[level](x)
        cls_logits = self.cls_preds[level](self.cls_convs[level](x))
        reg_features = self.reg_convs[level](x)
        boxes = self.reg_preds[level](reg_features)
        obj_logit = self.obj_preds[level](reg_features)
        return torch.cat((boxes, obj_logit, cls_logits), dim=1)


def keep_head_classes(head: YoloxHead, class_ids: Sequence[int]) -> None:
    """Replace each `cls_preds` conv of `head` by one with only the rows of `class_ids`, in that order."""
    ids = list(class_ids)
    if not ids or len(set(ids)) != len(ids) or not all(0 <= i < head.num_classes for i in ids):
        raise ValueError(f"class_ids must be distinct ids in [0, {head.num_classes}), got {ids}")
    for level, old in enumerate(head.cls_preds):
        new = nn.Conv2d(old.in_channels, len(ids), 1).to(old.weight.device, old.weight.dtype)
        with torch.no_grad():
            new.weight.copy_(old.weight[ids])
            new.bias.copy_(old.bias[ids])
        head.cls_preds[level] = new
    head.num_classes = len(ids)


def append_classes(head: YoloxHead, count: int, std: float = 0.01, prior_prob: float = 1e-2) -> None:
    """Add `count` new classes after the existing ones: small random weights, the focal-loss prior as bias."""
    bias = -math.log((1 - prior_prob) / prior_prob)
    for level, old in enumerate(head.cls_preds):
        new = nn.Conv2d(old.in_channels, old.out_channels + count, 1).to(old.weight.device, old.weight.dtype)
        with torch.no_grad():
            nn.init.normal_(new.weight, std=std)
            new.bias.fill_(bias)
            new.weight[: old.out_channels] = old.weight
            new.bias[: old.out_channels] = old.bias
        head.cls_preds[level] = new
    head.num_classes += count


def flatten_levels(levels: Sequence[Tensor]) -> Tensor:
    """Raw per-level outputs -> [N, points, 5 + C] in the ONNX export's format.

    Points run level by level (stride 8 first), row-major within a level. x, y, w, h stay in grid units
    (see `decode_boxes`); objectness and class scores go through a sigmoid.
    """
    flat = torch.cat([level.flatten(start_dim=2) for level in levels], dim=2).permute(0, 2, 1)
    boxes, scores = flat.split((REG_CHANNELS, flat.shape[2] - REG_CHANNELS), dim=2)
    return torch.cat((boxes, scores.sigmoid()), dim=2)


def decode_boxes(predictions: Tensor, image_size: tuple[int, int], strides: Sequence[int] = STRIDES) -> Tensor:
    """[N, points, 5 + C] from `flatten_levels` -> the same with x, y (centre), w, h in input pixels.

    `image_size` is (height, width) of the network input; each side must be a multiple of every stride.
    """
    height, width = image_size
    for stride in strides:
        if height % stride or width % stride:
            raise ValueError(f"image size {image_size} is not a multiple of stride {stride}")
    # One definition of the point order, shared with the ONNX runtime's decoder.
    grid_np, stride_np = grid_and_strides(image_size, tuple(strides))
    grid, stride = torch.from_numpy(grid_np).to(predictions), torch.from_numpy(stride_np).to(predictions)
    if grid.shape[0] != predictions.shape[1]:
        raise ValueError(f"{predictions.shape[1]} points do not match image size {image_size} ({grid.shape[0]})")
    xy = (predictions[..., :2] + grid) * stride
    wh = predictions[..., 2:4].exp() * stride
    return torch.cat((xy, wh, predictions[..., 4:]), dim=-1)
