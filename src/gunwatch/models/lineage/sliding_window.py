"""The sliding-window detector's window classifier, built so its convolutional form is exact.

A gun / no-gun classifier of one square window, with a box head that refines the window to the gun (as
OverFeat and the course's localizer do). Its layers are the first `trunk_blocks` blocks of the ImageNet
MobileNetV2 with *valid* convolutions (no zero padding; each shortcut is cropped to the convolution's
smaller output), then the classifier's dense layers written as convolutions: a `head_kernel` x
`head_kernel` convolution (the first dense layer over the window's feature block) and 1 x 1 convolutions.

Without padding, every output cell of the network run on a whole image depends on exactly the pixels of
one window, and equals the classifier run on that window's crop: the course's point that the whole image
runs once per pyramid scale instead of once per window, with the same scores. The window side is the
network's receptive field and the window stride its total stride (`window_geometry`). The ImageNet filters
load as they are; only the image border (no zeros around it) and the phase of the stride-2 sampling differ
from the padded network they were trained in, which fine-tuning absorbs.
"""

from __future__ import annotations

import torch
from torch import nn

from gunwatch.models.localizer import IMAGENET_MEAN, IMAGENET_STD
from gunwatch.models.mobilenet_v2 import InvertedResidual, MobileNetV2Features


class ValidBlock(nn.Module):
    """One MobileNetV2 block without zero padding; a shortcut adds the input's centre (same pixels)."""

    def __init__(self, block: nn.Module):
        super().__init__()
        self.block = block
        self.shortcut = isinstance(block, InvertedResidual) and block.use_shortcut
        for module in block.modules():
            if isinstance(module, nn.Conv2d):
                module.padding = (0, 0)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.shortcut:
            return self.block(x)
        y = self.block.conv(x)
        trim_h, trim_w = (x.shape[2] - y.shape[2]) // 2, (x.shape[3] - y.shape[3]) // 2
        return x[:, :, trim_h : x.shape[2] - trim_h, trim_w : x.shape[3] - trim_w] + y


class WindowClassifier(nn.Module):
    """images N x 3 x H x W RGB 0..1 -> (gun probability N x h x w, box deltas N x 4 x h x w) per window.

    Window (i, j) covers pixels [j * stride, j * stride + window) x [i * stride, i * stride + window) of the
    input; its deltas are the gun's (x1, y1, x2, y2) minus the window's, over the window side.
    """

    def __init__(self, width_mult: float = 1.0, trunk_blocks: int = 8, head_kernel: int = 2, hidden: int = 256,
                 dropout: float = 0.2):
        super().__init__()
        features = MobileNetV2Features(width_mult)
        self.trunk_blocks = trunk_blocks
        self.trunk = nn.Sequential(*(ValidBlock(block) for block in features.features[:trunk_blocks]))
        channels = _out_channels(self.trunk)
        self.register_buffer("mean", torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1))
        self.register_buffer("std", torch.tensor(IMAGENET_STD).view(1, 3, 1, 1))
        # The classifier's dense layers as convolutions: fc1 sees the window's whole feature block.
        self.fc1 = nn.Conv2d(channels, hidden, head_kernel)
        self.fc2 = nn.Conv2d(hidden, hidden, 1)
        self.dropout = nn.Dropout(dropout)
        self.class_head = nn.Conv2d(hidden, 1, 1)
        self.box_head = nn.Conv2d(hidden, 4, 1)
        self.window, self.stride = window_geometry(self)

    def load_imagenet(self, state: dict[str, torch.Tensor]) -> None:
        """Load MobileNetV2Features weights (keys `features.<block>...`) into the trunk's blocks."""
        prefix = tuple(f"features.{i}." for i in range(self.trunk_blocks))
        mine = {f"{k.split('.')[1]}.block.{k.split('.', 2)[2]}": v for k, v in state.items() if k.startswith(prefix)}
        self.trunk.load_state_dict(mine)

    def forward_logits(self, images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(class logits N x h x w, box deltas N x 4 x h x w)."""
        x = self.trunk((images - self.mean) / self.std)
        x = self.dropout(torch.relu(self.fc1(x)))
        x = self.dropout(torch.relu(self.fc2(x)))
        return self.class_head(x).squeeze(1), self.box_head(x)

    def forward(self, images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        class_logit, deltas = self.forward_logits(images)
        return torch.sigmoid(class_logit), deltas


def _out_channels(trunk: nn.Sequential) -> int:
    return [m for m in trunk.modules() if isinstance(m, nn.Conv2d)][-1].out_channels


def window_geometry(model: nn.Module) -> tuple[int, int]:
    """(window side, stride) in input pixels: the receptive field and total stride of the valid convolutions,
    in the order they run (the trunk, then the head)."""
    field, jump = 1, 1
    for module in model.modules():
        if isinstance(module, nn.Conv2d):
            field += (module.kernel_size[0] - 1) * jump
            jump *= module.stride[0]
    return field, jump
