"""R-CNN's network at run time (Girshick et al. 2014): CNN features of a warped proposal, a linear gun
classifier on them, and the class-specific box regressor.

The paper's three stages are three separately trained pieces; the export puts them in one graph so the
runtime makes one ONNX call per batch of warped crops:
  crops N x 3 x S x S (RGB 0..1) -> ImageNet MobileNetV2 trunk -> average pool -> features N x 1280
  -> gun score N: sigmoid(a * svm(features) + b), the SVM's margin calibrated to a probability (Platt)
  -> deltas N x 4: ridge regression of R-CNN's (dx, dy, dw, dh) (see inference/lineage/box_coding.py).
The trunk is frozen ImageNet weights in this build (no fine-tuning on warped proposals: the CPU budget).
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from gunwatch.models.localizer import IMAGENET_MEAN, IMAGENET_STD
from gunwatch.models.mobilenet_v2 import MobileNetV2Features


class RcnnFeatures(nn.Module):
    """Warped crops (RGB 0..1) to pooled ImageNet features, N x 1280."""

    def __init__(self, width_mult: float = 1.0):
        super().__init__()
        self.backbone = MobileNetV2Features(width_mult)
        self.register_buffer("mean", torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1))
        self.register_buffer("std", torch.tensor(IMAGENET_STD).view(1, 3, 1, 1))
        self.out_channels = self.backbone.out_channels

    def forward(self, crops: torch.Tensor) -> torch.Tensor:
        return self.backbone((crops - self.mean) / self.std).mean(dim=(2, 3))


class Rcnn(nn.Module):
    """Features, the calibrated linear classifier and the box regressor, with the heads' weights set from
    the fitted scikit-learn models by `set_heads`."""

    def __init__(self, width_mult: float = 1.0):
        super().__init__()
        self.features = RcnnFeatures(width_mult)
        channels = self.features.out_channels
        self.classifier = nn.Linear(channels, 1)  # the SVM's w . x + b
        self.register_buffer("platt", torch.tensor([1.0, 0.0]))  # probability = sigmoid(a * margin + b)
        self.regressor = nn.Linear(channels, 4)  # raw (dx, dy, dw, dh)

    def set_heads(self, svm_weight: np.ndarray, svm_bias: float, platt: tuple[float, float],
                  ridge_weight: np.ndarray, ridge_bias: np.ndarray) -> None:
        with torch.no_grad():
            self.classifier.weight.copy_(torch.as_tensor(np.asarray(svm_weight, np.float32).reshape(1, -1)))
            self.classifier.bias.fill_(float(svm_bias))
            self.platt.copy_(torch.tensor([float(platt[0]), float(platt[1])]))
            self.regressor.weight.copy_(torch.as_tensor(np.asarray(ridge_weight, np.float32).reshape(4, -1)))
            self.regressor.bias.copy_(torch.as_tensor(np.asarray(ridge_bias, np.float32).reshape(4)))

    def forward(self, crops: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(gun probability N, deltas N x 4)."""
        features = self.features(crops)
        margin = self.classifier(features).squeeze(1)
        return torch.sigmoid(self.platt[0] * margin + self.platt[1]), self.regressor(features)
