"""Fast R-CNN (Girshick 2015) on an ImageNet MobileNetV2: one feature map per image, RoI pooling, two heads.

The image goes through the convolutional trunk once; each proposal (RoI) is cut out of that feature map by
RoI max pooling to a fixed 7 x 7 grid (the paper's; `roi_op="align"` uses RoI align instead, to compare),
then two fully connected layers feed a softmax over background + the classes and class-specific box
regression deltas (4 per class, background has none).

The trunk stops at MobileNetV2's stride-16 stage (blocks 0..13, 96 channels at width 1.0), where the
paper's VGG16 conv5_3 also stands: at 416 input pixels a 32-pixel gun covers 2 x 2 cells there and 1 x 1 at
stride 32, where a 7 x 7 pooling grid would only repeat one cell. The stride-32 blocks and the 1280-channel
layer are not used; the two fully connected layers play their part, as in the paper.

`forward(image, rois)` is the exported graph: one image 1 x 3 x H x W RGB 0..1 (any H, W) and R x 4 RoIs
xyxy in that image's pixels -> class probabilities R x (1 + K) (column 0 is background) and box deltas
R x 4K (normalised by `BOX_STDS`, see `inference/lineage/box_coding.py`).
"""

from __future__ import annotations

from typing import Literal

import torch
from torch import nn
from torchvision.ops import roi_align, roi_pool

from gunwatch.models.localizer import IMAGENET_MEAN, IMAGENET_STD
from gunwatch.models.mobilenet_v2 import INVERTED_RESIDUAL_SETTING, MobileNetV2Features

RoiOp = Literal["pool", "align"]
STRIDE = 16
# MobileNetV2 blocks up to the end of the stride-16 stage: the stem, then the (t, c, n, s) rows of 16, 24,
# 32, 64 and 96 channels (1 + 1 + 2 + 3 + 4 + 3 = 14 blocks).
STRIDE16_BLOCKS = 1 + sum(n for _, _, n, _ in INVERTED_RESIDUAL_SETTING[:5])
STRIDE16_CHANNELS = INVERTED_RESIDUAL_SETTING[4][1]
# Regression targets divided by these (Fast R-CNN's implementation), so smooth L1 is balanced with the
# cross-entropy; the runtime multiplies them back (metadata `gunwatch.box_stds`).
BOX_STDS = (0.1, 0.1, 0.2, 0.2)
ALIGN_SAMPLING_RATIO = 2  # fixed (not adaptive): the same number of samples in PyTorch and ONNX Runtime


class FastRcnn(nn.Module):
    def __init__(self, num_classes: int = 1, roi_op: RoiOp = "pool", pool_size: int = 7, fc_dim: int = 1024,
                 dropout: float = 0.5, width_mult: float = 1.0):
        super().__init__()
        self.num_classes, self.roi_op, self.pool_size = num_classes, roi_op, pool_size
        self.backbone = MobileNetV2Features(width_mult)
        # Only the stride-16 trunk is kept; the keys stay those of the ImageNet file (backbone.features.N).
        self.backbone.features = self.backbone.features[:STRIDE16_BLOCKS]
        channels = int(STRIDE16_CHANNELS * width_mult)
        self.register_buffer("mean", torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1))
        self.register_buffer("std", torch.tensor(IMAGENET_STD).view(1, 3, 1, 1))
        self.fc = nn.Sequential(
            nn.Linear(channels * pool_size * pool_size, fc_dim), nn.ReLU(inplace=True), nn.Dropout(dropout),
            nn.Linear(fc_dim, fc_dim), nn.ReLU(inplace=True), nn.Dropout(dropout),
        )
        self.cls_score = nn.Linear(fc_dim, num_classes + 1)
        self.bbox_pred = nn.Linear(fc_dim, 4 * num_classes)
        # The paper's initialisation of the new layers: N(0, 0.01) for scores, N(0, 0.001) for boxes.
        nn.init.normal_(self.cls_score.weight, std=0.01)
        nn.init.normal_(self.bbox_pred.weight, std=0.001)
        nn.init.zeros_(self.cls_score.bias)
        nn.init.zeros_(self.bbox_pred.bias)

    def feature_map(self, images: torch.Tensor) -> torch.Tensor:
        """images: N x 3 x H x W RGB 0..1 -> N x C x ~H/16 x ~W/16."""
        return self.backbone((images - self.mean) / self.std)

    def head(
        self, features: torch.Tensor, rois: torch.Tensor | list[torch.Tensor]
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """rois: R x 5 (batch index, x1, y1, x2, y2) or one R_i x 4 tensor per image, in input pixels.
        Returns (class logits R x (1 + K), box deltas R x 4K)."""
        size, scale = (self.pool_size, self.pool_size), 1.0 / STRIDE
        if self.roi_op == "pool":
            pooled = roi_pool(features, rois, size, scale)
        else:
            pooled = roi_align(features, rois, size, scale, sampling_ratio=ALIGN_SAMPLING_RATIO, aligned=True)
        x = self.fc(torch.flatten(pooled, 1))
        return self.cls_score(x), self.bbox_pred(x)

    def forward(self, image: torch.Tensor, rois: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """The exported graph: image 1 x 3 x H x W, rois R x 4 -> (probabilities R x (1 + K), deltas R x 4K)."""
        indexed = torch.cat([torch.zeros_like(rois[:, :1]), rois], dim=1)
        logits, deltas = self.head(self.feature_map(image), indexed)
        return torch.softmax(logits, dim=1), deltas
