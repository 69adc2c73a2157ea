"""Widen a trained YOLOX without changing what it computes (Net2WiderNet, Chen et al. 2016).

Issue 11 asks whether a wider network pays, and only Nano's weights exist offline. Training a wider
network from scratch on two CPU cores takes days; widening the trained Nano keeps everything it learnt
and lets the extra channels learn from there.

Every feature map of the wide network has a *channel map*: wide channel k carries the narrow channel
`map[k]` (the first channels keep their own index, the new ones copy existing ones). A convolution that
reads a map gets the narrow weights of the channels it reads, and a narrow channel read through n copies
has its weight split among them, so the sum is unchanged. The split is random (fractions that sum to one),
so copies receive different gradients and grow apart in training; the output stays exactly the narrow
network's. Depthwise convolutions and batch norms work per channel, so they copy their channel's values.
A residual sum keeps its input's map, and a concatenation's map is its parts' maps side by side.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from gunwatch.models.yolox.backbone import CSPDarknet
from gunwatch.models.yolox.blocks import (
    BaseConv,
    Bottleneck,
    CSPLayer,
    DWConv,
    Focus,
    SPPBottleneck,
    model_activation,
    use_activation,
)
from gunwatch.models.yolox.head import YoloxHead
from gunwatch.models.yolox.model import YOLOX, yolox_nano
from gunwatch.models.yolox.neck import PAFPN


def widen_yolox(narrow: YOLOX, width: float, seed: int = 0) -> YOLOX:
    """A YOLOX-Nano-layout network at `width` that computes what `narrow` computes (eval and train mode)."""
    wide = use_activation(yolox_nano(narrow.head.num_classes, width=width), model_activation(narrow))
    if wide.backbone.out_channels[0] < narrow.backbone.out_channels[0]:
        raise ValueError(f"width {width} is narrower than the network's")
    widener = _Widener(torch.Generator().manual_seed(seed))
    with torch.no_grad():
        features = widener.backbone(narrow.backbone, wide.backbone)
        pyramid = widener.neck(narrow.neck, wide.neck, features)
        widener.head(narrow.head, wide.head, pyramid)
    return wide.train(narrow.training)


def channel_map(narrow: int, wide: int) -> Tensor:
    """Wide channel k carries narrow channel k, and the new ones copy channels 0, 1, ... in turn."""
    return torch.arange(wide) % narrow


def concat_maps(*parts: tuple[Tensor, int]) -> Tensor:
    """The map of a concatenation, from each part's (map, narrow channel count)."""
    offset, maps = 0, []
    for part_map, narrow_channels in parts:
        maps.append(part_map + offset)
        offset += narrow_channels
    return torch.cat(maps)


class _Widener:
    """Copies narrow weights into a wide network block by block; each method returns its output's map."""

    def __init__(self, generator: torch.Generator):
        self.generator = generator

    def backbone(self, narrow: CSPDarknet, wide: CSPDarknet) -> tuple[Tensor, Tensor, Tensor]:
        x = self.focus(narrow.stem, wide.stem)
        x = self.sequence(narrow.dark2, wide.dark2, x)
        dark3 = self.sequence(narrow.dark3, wide.dark3, x)
        dark4 = self.sequence(narrow.dark4, wide.dark4, dark3)
        dark5 = self.sequence(narrow.dark5, wide.dark5, dark4)
        return dark3, dark4, dark5

    def neck(self, narrow: PAFPN, wide: PAFPN, features: tuple[Tensor, Tensor, Tensor]) -> tuple[Tensor, ...]:
        dark3, dark4, dark5 = features
        c3, c4, _ = narrow.out_channels
        lateral5 = self.base_conv(narrow.lateral_conv0, wide.lateral_conv0, dark5)
        top_down4 = self.csp(narrow.C3_p4, wide.C3_p4, concat_maps((lateral5, c4), (dark4, c4)))
        lateral4 = self.base_conv(narrow.reduce_conv1, wide.reduce_conv1, top_down4)
        p3 = self.csp(narrow.C3_p3, wide.C3_p3, concat_maps((lateral4, c3), (dark3, c3)))
        down3 = self.block(narrow.bu_conv2, wide.bu_conv2, p3)
        p4 = self.csp(narrow.C3_n3, wide.C3_n3, concat_maps((down3, c3), (lateral4, c3)))
        down4 = self.block(narrow.bu_conv1, wide.bu_conv1, p4)
        p5 = self.csp(narrow.C3_n4, wide.C3_n4, concat_maps((down4, c4), (lateral5, c4)))
        return p3, p4, p5

    def head(self, narrow: YoloxHead, wide: YoloxHead, pyramid: tuple[Tensor, ...]) -> None:
        for level, in_map in enumerate(pyramid):
            x = self.base_conv(narrow.stems[level], wide.stems[level], in_map)
            cls_features = self.sequence(narrow.cls_convs[level], wide.cls_convs[level], x)
            reg_features = self.sequence(narrow.reg_convs[level], wide.reg_convs[level], x)
            # The predictions keep their channels (box terms, objectness, classes): only their inputs widen.
            for narrow_preds, wide_preds, features in (
                (narrow.cls_preds[level], wide.cls_preds[level], cls_features),
                (narrow.reg_preds[level], wide.reg_preds[level], reg_features),
                (narrow.obj_preds[level], wide.obj_preds[level], reg_features),
            ):
                self.conv(narrow_preds, wide_preds, features, torch.arange(narrow_preds.out_channels))

    def sequence(self, narrow: nn.Sequential, wide: nn.Sequential, in_map: Tensor) -> Tensor:
        for narrow_block, wide_block in zip(narrow, wide, strict=True):
            in_map = self.block(narrow_block, wide_block, in_map)
        return in_map

    def block(self, narrow: nn.Module, wide: nn.Module, in_map: Tensor, out_map: Tensor | None = None) -> Tensor:
        if isinstance(narrow, BaseConv):
            return self.base_conv(narrow, wide, in_map, out_map)
        if isinstance(narrow, DWConv):
            return self.dw_conv(narrow, wide, in_map, out_map)
        if out_map is not None:
            raise TypeError(f"{type(narrow).__name__} cannot take a given output map")
        if isinstance(narrow, CSPLayer):
            return self.csp(narrow, wide, in_map)
        if isinstance(narrow, SPPBottleneck):
            return self.spp(narrow, wide, in_map)
        raise TypeError(f"no widening rule for {type(narrow).__name__}")

    def focus(self, narrow: Focus, wide: Focus) -> Tensor:
        # The four pixel phases of the three colour channels are the same 12 channels in both networks.
        return self.base_conv(narrow.conv, wide.conv, torch.arange(narrow.conv.conv.in_channels))

    def dw_conv(self, narrow: DWConv, wide: DWConv, in_map: Tensor, out_map: Tensor | None = None) -> Tensor:
        self.base_conv(narrow.dconv, wide.dconv, in_map, in_map)
        return self.base_conv(narrow.pconv, wide.pconv, in_map, out_map)

    def bottleneck(self, narrow: Bottleneck, wide: Bottleneck, in_map: Tensor) -> Tensor:
        hidden = self.base_conv(narrow.conv1, wide.conv1, in_map)
        # A residual sum adds channel k of both terms, so the branch must end on its input's map.
        return self.block(narrow.conv2, wide.conv2, hidden, in_map if narrow.use_add else None)

    def csp(self, narrow: CSPLayer, wide: CSPLayer, in_map: Tensor) -> Tensor:
        first = self.base_conv(narrow.conv1, wide.conv1, in_map)
        second = self.base_conv(narrow.conv2, wide.conv2, in_map)
        for narrow_bottleneck, wide_bottleneck in zip(narrow.m, wide.m, strict=True):
            first = self.bottleneck(narrow_bottleneck, wide_bottleneck, first)
        hidden = narrow.conv1.conv.out_channels
        return self.base_conv(narrow.conv3, wide.conv3, concat_maps((first, hidden), (second, hidden)))

    def spp(self, narrow: SPPBottleneck, wide: SPPBottleneck, in_map: Tensor) -> Tensor:
        hidden_map = self.base_conv(narrow.conv1, wide.conv1, in_map)
        hidden = narrow.conv1.conv.out_channels
        # Max-pooling works per channel: the concatenation of the map and its pools repeats the map.
        pooled = concat_maps(*[(hidden_map, hidden)] * (len(narrow.m) + 1))
        return self.base_conv(narrow.conv2, wide.conv2, pooled)

    def base_conv(self, narrow: BaseConv, wide: BaseConv, in_map: Tensor, out_map: Tensor | None = None) -> Tensor:
        if out_map is None:
            out_map = channel_map(narrow.conv.out_channels, wide.conv.out_channels)
        self.conv(narrow.conv, wide.conv, in_map, out_map)
        for name in ("weight", "bias", "running_mean", "running_var"):
            getattr(wide.bn, name).copy_(getattr(narrow.bn, name)[out_map])
        wide.bn.num_batches_tracked.copy_(narrow.bn.num_batches_tracked)
        return out_map

    def conv(self, narrow: nn.Conv2d, wide: nn.Conv2d, in_map: Tensor, out_map: Tensor) -> None:
        if len(out_map) != wide.out_channels:
            raise ValueError(f"output map of {len(out_map)} channels for a conv with {wide.out_channels}")
        if narrow.groups > 1:
            # Depthwise: each channel filters only itself, so it copies its channel's filter and cannot split.
            if narrow.groups != narrow.in_channels or not torch.equal(in_map, out_map):
                raise ValueError("a depthwise convolution must keep its input's channel map")
            wide.weight.copy_(narrow.weight[in_map])
        else:
            weight = narrow.weight[out_map][:, in_map]
            wide.weight.copy_(weight * self.split_fractions(in_map, len(out_map))[:, :, None, None])
        if narrow.bias is not None:
            wide.bias.copy_(narrow.bias[out_map])

    def split_fractions(self, in_map: Tensor, out_channels: int) -> Tensor:
        """[out, in] random fractions, positive, summing to 1 over the copies of each narrow input channel."""
        raw = 1.0 + 0.5 * torch.rand(out_channels, len(in_map), generator=self.generator)
        totals = torch.zeros(out_channels, int(in_map.max()) + 1).index_add_(1, in_map, raw)
        return raw / totals[:, in_map]

