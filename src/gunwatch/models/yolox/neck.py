"""PAFPN, the YOLOX neck (after Megvii YOLOX `yolox/models/yolo_pafpn.py`, Apache-2.0).

A top-down pass (FPN: 1x1 reduce, 2x nearest upsample, concat, CSP layer) followed by a bottom-up pass
(PAN: stride-2 conv, concat, CSP layer). Layer names follow YOLOX's.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from gunwatch.models.yolox.blocks import BaseConv, CSPLayer, conv_block


class PAFPN(nn.Module):
    """Fuses the backbone's (stride 8, 16, 32) features; returns three maps with `in_channels` channels."""

    def __init__(self, in_channels: tuple[int, int, int], depth: float = 1.0, depthwise: bool = False):
        super().__init__()
        c3, c4, c5 = in_channels
        n = round(3 * depth)
        self.out_channels = in_channels
        self.upsample = nn.Upsample(scale_factor=2, mode="nearest")
        # top-down
        self.lateral_conv0 = BaseConv(c5, c4, 1)
        self.C3_p4 = CSPLayer(2 * c4, c4, n, shortcut=False, depthwise=depthwise)
        self.reduce_conv1 = BaseConv(c4, c3, 1)
        self.C3_p3 = CSPLayer(2 * c3, c3, n, shortcut=False, depthwise=depthwise)
        # bottom-up
        self.bu_conv2 = conv_block(c3, c3, 3, 2, depthwise)
        self.C3_n3 = CSPLayer(2 * c3, c4, n, shortcut=False, depthwise=depthwise)
        self.bu_conv1 = conv_block(c4, c4, 3, 2, depthwise)
        self.C3_n4 = CSPLayer(2 * c4, c5, n, shortcut=False, depthwise=depthwise)

    def forward(self, features: tuple[Tensor, Tensor, Tensor]) -> tuple[Tensor, Tensor, Tensor]:
        """(dark3, dark4, dark5) -> (P3 at stride 8, P4 at 16, P5 at 32)."""
        dark3, dark4, dark5 = features
        lateral5 = self.lateral_conv0(dark5)
        top_down4 = self.C3_p4(torch.cat((self.upsample(lateral5), dark4), dim=1))
        lateral4 = self.reduce_conv1(top_down4)
        p3 = self.C3_p3(torch.cat((self.upsample(lateral4), dark3), dim=1))
        p4 = self.C3_n3(torch.cat((self.bu_conv2(p3), lateral4), dim=1))
        p5 = self.C3_n4(torch.cat((self.bu_conv1(p4), lateral5), dim=1))
        return p3, p4, p5
