"""The course notebook's single-object localizer: an ImageNet CNN with a gun / no-gun head and a box head.

Baseline 1. It sees one box per image; `forward` returns the gun probability and the box as normalised
(x1, y1, x2, y2), so the exported graph needs no decoding at run time.
"""

from __future__ import annotations

import torch
from torch import nn

from gunwatch.models.mobilenet_v2 import MobileNetV2Features

# ImageNet statistics the backbone was trained with; applied inside the network so the ONNX graph takes
# plain 0..1 RGB and the runtime needs no model-specific normalisation.
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


class Localizer(nn.Module):
    def __init__(self, width_mult: float = 1.0, dropout: float = 0.2):
        super().__init__()
        self.backbone = MobileNetV2Features(width_mult)
        self.register_buffer("mean", torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1))
        self.register_buffer("std", torch.tensor(IMAGENET_STD).view(1, 3, 1, 1))
        features = self.backbone.out_channels
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.dropout = nn.Dropout(dropout)
        self.class_head = nn.Linear(features, 1)  # logit of "there is a gun"
        self.box_head = nn.Linear(features, 4)  # logits of (cx, cy, w, h), normalised by a sigmoid

    def forward_logits(self, images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """images: N x 3 x H x W RGB in 0..1. Returns (class logit N, box logits N x 4)."""
        x = self.backbone((images - self.mean) / self.std)
        x = self.dropout(torch.flatten(self.pool(x), 1))
        return self.class_head(x).squeeze(1), self.box_head(x)

    def forward(self, images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(gun probability N, box N x 4 as normalised x1, y1, x2, y2)."""
        class_logit, box_logits = self.forward_logits(images)
        return torch.sigmoid(class_logit), cxcywh_to_xyxy(torch.sigmoid(box_logits))


def cxcywh_to_xyxy(box: torch.Tensor) -> torch.Tensor:
    cx, cy, w, h = box.unbind(-1)
    return torch.stack((cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2), dim=-1)


def xyxy_to_cxcywh(box: torch.Tensor) -> torch.Tensor:
    x1, y1, x2, y2 = box.unbind(-1)
    return torch.stack(((x1 + x2) / 2, (y1 + y2) / 2, x2 - x1, y2 - y1), dim=-1)
