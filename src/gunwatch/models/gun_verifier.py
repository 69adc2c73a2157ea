"""The gun verifier: an ImageNet MobileNetV2 (or EfficientNet-Lite0) that says whether a context crop around a
candidate shows a gun.

A second opinion on every gun candidate the detector proposes, from a network that sees the candidate at
one fixed scale, whatever its size in the frame, and was trained on the detector's own mistakes (knives
in hands, phones, cameras on brackets, tools) as much as on guns: the R-CNN family's second stage, kept
separate so the detector stays fast and the verifier runs only where the detector sees something.
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


class GunVerifier(nn.Module):
    def __init__(self, backbone: Backbone = "mobilenet_v2", dropout: float = 0.2):
        super().__init__()
        self.backbone = FEATURES[backbone]()
        # Normalised inside, so the exported graph takes plain RGB pixel values (0..255).
        self.register_buffer("mean", 255 * torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1))
        self.register_buffer("std", 255 * torch.tensor(IMAGENET_STD).view(1, 3, 1, 1))
        self.dropout = nn.Dropout(dropout)
        self.head = nn.Linear(self.backbone.out_channels, 1)

    def logits(self, crops: torch.Tensor) -> torch.Tensor:
        """crops: N x 3 x S x S RGB pixel values 0..255. Returns N logits of "a gun"."""
        features = self.backbone((crops - self.mean) / self.std)
        return self.head(self.dropout(features.mean(dim=(2, 3)))).squeeze(1)

    def forward(self, crops: torch.Tensor) -> torch.Tensor:
        """N gun probabilities."""
        return torch.sigmoid(self.logits(crops))
