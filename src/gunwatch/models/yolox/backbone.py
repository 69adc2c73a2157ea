"""CSPDarknet, the YOLOX backbone (after Megvii YOLOX `yolox/models/darknet.py`, Apache-2.0)."""

from __future__ import annotations

from torch import Tensor, nn

from gunwatch.models.yolox.blocks import CSPLayer, Focus, SPPBottleneck, conv_block


def downsample_stage(in_channels: int, out_channels: int, n: int, depthwise: bool) -> nn.Sequential:
    """A stride-2 conv, then a CSP layer of `n` bottlenecks with shortcuts."""
    return nn.Sequential(
        conv_block(in_channels, out_channels, 3, 2, depthwise),
        CSPLayer(out_channels, out_channels, n, depthwise=depthwise),
    )


class CSPDarknet(nn.Module):
    """Focus stem, then four stages that each halve the resolution; returns the strides 8, 16, 32 outputs.

    Each stage is a stride-2 conv followed by a CSP layer; the last one has SPP before its CSP layer, and
    that CSP layer has no shortcuts.
    """

    def __init__(self, depth: float = 1.0, width: float = 1.0, depthwise: bool = False):
        super().__init__()
        base_channels = int(width * 64)
        base_depth = max(round(depth * 3), 1)
        c1, c2, c3, c4, c5 = (base_channels * m for m in (1, 2, 4, 8, 16))
        self.out_channels = (c3, c4, c5)
        self.stem = Focus(3, c1, ksize=3)
        self.dark2 = downsample_stage(c1, c2, base_depth, depthwise)
        self.dark3 = downsample_stage(c2, c3, base_depth * 3, depthwise)
        self.dark4 = downsample_stage(c3, c4, base_depth * 3, depthwise)
        self.dark5 = nn.Sequential(
            conv_block(c4, c5, 3, 2, depthwise),
            SPPBottleneck(c5, c5),
            CSPLayer(c5, c5, base_depth, shortcut=False, depthwise=depthwise),
        )

    def forward(self, images: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        """images [N, 3, H, W] -> (dark3 at H/8, dark4 at H/16, dark5 at H/32)."""
        x = self.dark2(self.stem(images))
        dark3 = self.dark3(x)
        dark4 = self.dark4(dark3)
        dark5 = self.dark5(dark4)
        return dark3, dark4, dark5
