"""The gun verifier: an ImageNet MobileNetV2 (or EfficientNet-Lite0) that says whether a context crop around a
candidate shows a gun.

A second opinion on every gun candidate the detector proposes, from a network that sees the candidate at
one fixed scale, whatever its size in the frame, and was trained on the detector's own mistakes (knives
in hands, phones, cameras on brackets, tools) as much as on guns: the R-CNN family's second stage, kept
separate so the detector stays fast and the verifier runs only where the detector sees something.

With `box_head` it also moves the candidate's box onto the gun (xyxy in crop units, 0..1 of the square), as
Fast R-CNN's second stage moves its proposals: the detector's box around a small or half-hidden gun is
often off by more than the IoU 0.5 a hit needs, and the verifier sees the gun at one scale, closer.
"""

from __future__ import annotations

import torch
from torch import nn

from gunwatch.models.efficientnet_lite import EfficientNetLite0Features
from gunwatch.models.localizer import IMAGENET_MEAN, IMAGENET_STD
from gunwatch.models.mobilenet_v2 import MobileNetV2Features
from gunwatch.models.verifier_backbones import Backbone

FEATURES: dict[Backbone, type[MobileNetV2Features] | type[EfficientNetLite0Features]] = {
    "mobilenet_v2": MobileNetV2Features, "efficientnet_lite0": EfficientNetLite0Features}


class BoxHead(nn.Module):
    """Moves the candidate's box onto the gun, as Fast R-CNN's second stage moves its proposals: from the
    feature map kept as its grid (the crop's side / 32 cells a side; averaged over the crop, as the gun /
    not-gun head sees it, the features would no longer say where anything is) and the candidate's own box
    (crop units: the crop says nothing of the box's aspect), a shift of each side in units of the box's width
    and height. It starts as no shift at all."""

    CHANNELS, STRIDE = 64, 32

    def __init__(self, in_channels: int, crop_side: int):
        super().__init__()
        grid = max(1, -(-crop_side // self.STRIDE))  # the backbone's last map: stride 32, rounded up
        self.reduce = nn.Sequential(nn.Conv2d(in_channels, self.CHANNELS, 1), nn.ReLU(inplace=True), nn.Flatten())
        self.out = nn.Linear(self.CHANNELS * grid**2 + 4, 4)
        nn.init.zeros_(self.out.weight)
        nn.init.zeros_(self.out.bias)

    def forward(self, features: torch.Tensor, boxes: torch.Tensor) -> torch.Tensor:
        shifts = self.out(torch.cat([self.reduce(features), boxes], dim=1))
        size = (boxes[:, 2:] - boxes[:, :2]).repeat(1, 2)
        return boxes + shifts * size


class GunVerifier(nn.Module):
    def __init__(self, backbone: Backbone = "mobilenet_v2", dropout: float = 0.2, box_head: bool = False,
                 crop_side: int = 128):
        super().__init__()
        self.backbone = FEATURES[backbone]()
        # Normalised inside, so the exported graph takes plain RGB pixel values (0..255).
        self.register_buffer("mean", 255 * torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1))
        self.register_buffer("std", 255 * torch.tensor(IMAGENET_STD).view(1, 3, 1, 1))
        self.dropout = nn.Dropout(dropout)
        self.head = nn.Linear(self.backbone.out_channels, 1)
        self.box_head: BoxHead | None = BoxHead(self.backbone.out_channels, crop_side) if box_head else None

    def logits_and_boxes(self, crops: torch.Tensor, boxes: torch.Tensor | None = None
                         ) -> tuple[torch.Tensor, torch.Tensor | None]:
        """crops: N x 3 x S x S RGB pixel values 0..255; boxes: the candidates' N x 4 boxes in crop units (a box
        head needs them). Returns N logits of "a gun" and, with a box head, the N x 4 moved boxes."""
        features = self.backbone((crops - self.mean) / self.std)
        logits = self.head(self.dropout(features.mean(dim=(2, 3)))).squeeze(1)
        if self.box_head is None:
            return logits, None
        if boxes is None:
            raise ValueError("a verifier with a box head needs the candidates' boxes")
        return logits, self.box_head(features, boxes)

    def logits(self, crops: torch.Tensor) -> torch.Tensor:
        return self.head(self.dropout(self.backbone((crops - self.mean) / self.std).mean(dim=(2, 3)))).squeeze(1)

    def forward(self, crops: torch.Tensor, boxes: torch.Tensor | None = None
                ) -> torch.Tensor | tuple[torch.Tensor, torch.Tensor]:
        """N gun probabilities, and with a box head the N x 4 moved boxes in crop units."""
        logits, moved = self.logits_and_boxes(crops, boxes)
        return torch.sigmoid(logits) if moved is None else (torch.sigmoid(logits), moved)
