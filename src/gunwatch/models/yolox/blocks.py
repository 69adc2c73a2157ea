"""YOLOX building blocks, after Megvii YOLOX `yolox/models/network_blocks.py` (Apache-2.0).

Every convolution is a `BaseConv`: Conv2d without bias -> BatchNorm2d -> SiLU (or ReLU, `use_activation`), the
layout of the original PyTorch weights. Weights exported with the batch norms folded in load as: conv weight =
folded weight, batch norm = identity whose shift (`bn.bias`) carries the folded bias (see `onnx_weights.py`).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

# YOLOX's batch-norm settings (yolox/utils/model_utils.py and the network blocks).
BN_EPS = 1e-3
BN_MOMENTUM = 0.03
# YOLOX's own activation is SiLU; ReLU is the one INT8 runtimes fold into the convolution before it
# (`use_activation`, issue 11 item 5).
ACTIVATIONS = {"silu": nn.SiLU, "relu": nn.ReLU}


class BaseConv(nn.Module):
    """Conv2d (no bias, 'same' padding for odd kernels) -> BatchNorm2d -> SiLU."""

    def __init__(self, in_channels: int, out_channels: int, ksize: int, stride: int = 1, groups: int = 1):
        super().__init__()
        padding = (ksize - 1) // 2
        self.conv = nn.Conv2d(in_channels, out_channels, ksize, stride, padding, groups=groups, bias=False)
        self.bn = nn.BatchNorm2d(out_channels, eps=BN_EPS, momentum=BN_MOMENTUM)
        self.act = nn.SiLU(inplace=True)

    def forward(self, x: Tensor) -> Tensor:
        return self.act(self.bn(self.conv(x)))


def use_activation(model: nn.Module, name: str) -> nn.Module:
    """Give every `BaseConv` of `model` the activation `name` ("silu" or "relu"), in place; returns the model.

    The weights stay: a network trained with SiLU then computes something else until it is fine-tuned.
    """
    if name not in ACTIVATIONS:
        raise ValueError(f"activation must be one of {', '.join(ACTIVATIONS)}, not {name!r}")
    for module in model.modules():
        if isinstance(module, BaseConv):
            module.act = ACTIVATIONS[name](inplace=True)
    return model


class SiluToRelu(nn.Module):
    """(1 - mix) SiLU(x) + mix ReLU(x): a SiLU network moved to ReLU step by step while it trains. Swapped at once,
    the shipped detector's 113 layers compound the difference: after one epoch at the fine-tune's rate its val
    mAP@0.5 was 0.01 (configs/detector-relu.yaml). `mix` is set from outside (`set_activation_mix`), not a
    weight: the state dict stays a plain network's."""

    def __init__(self, mix: float = 0.0):
        super().__init__()
        self.mix = mix

    def forward(self, x: Tensor) -> Tensor:
        if self.mix >= 1.0:
            return F.relu(x)
        return torch.lerp(F.silu(x), F.relu(x), self.mix)


def set_activation_mix(model: nn.Module, mix: float) -> nn.Module:
    """Give every `BaseConv` of `model` the activation (1 - mix) SiLU + mix ReLU, in place; returns the model."""
    mix = min(max(mix, 0.0), 1.0)
    for module in model.modules():
        if isinstance(module, BaseConv):
            if not isinstance(module.act, SiluToRelu):
                module.act = SiluToRelu()
            module.act.mix = mix
    return model


def model_activation(model: nn.Module) -> str:
    """The activation of a network's convolutions ("silu" or "relu")."""
    found = {name for module in model.modules() if isinstance(module, BaseConv)
             for name, kind in ACTIVATIONS.items() if isinstance(module.act, kind)}
    found |= {"relu" if module.act.mix >= 1.0 else "silu-to-relu" for module in model.modules()
              if isinstance(module, BaseConv) and isinstance(module.act, SiluToRelu)}
    if len(found) != 1:
        raise ValueError(f"expected one activation in the network, found {sorted(found) or 'none'}")
    return found.pop()


class DWConv(nn.Module):
    """Depthwise separable convolution: a depthwise `BaseConv`, then a pointwise (1x1) one."""

    def __init__(self, in_channels: int, out_channels: int, ksize: int, stride: int = 1):
        super().__init__()
        self.dconv = BaseConv(in_channels, in_channels, ksize, stride, groups=in_channels)
        self.pconv = BaseConv(in_channels, out_channels, 1)

    def forward(self, x: Tensor) -> Tensor:
        return self.pconv(self.dconv(x))


def conv_block(in_channels: int, out_channels: int, ksize: int, stride: int, depthwise: bool) -> nn.Module:
    """The k x k convolution of a variant: depthwise separable (YOLOX-Nano) or plain."""
    if depthwise:
        return DWConv(in_channels, out_channels, ksize, stride)
    return BaseConv(in_channels, out_channels, ksize, stride)


class Bottleneck(nn.Module):
    """1x1 conv -> 3x3 conv, with a residual shortcut when asked for and the shapes allow it."""

    def __init__(self, in_channels: int, out_channels: int, shortcut: bool = True, expansion: float = 0.5,
                 depthwise: bool = False):
        super().__init__()
        hidden = int(out_channels * expansion)
        self.conv1 = BaseConv(in_channels, hidden, 1)
        self.conv2 = conv_block(hidden, out_channels, 3, 1, depthwise)
        self.use_add = shortcut and in_channels == out_channels

    def forward(self, x: Tensor) -> Tensor:
        y = self.conv2(self.conv1(x))
        return y + x if self.use_add else y


class CSPLayer(nn.Module):
    """Cross Stage Partial layer: two 1x1 branches, `n` bottlenecks on the first, concat, 1x1 fuse."""

    def __init__(self, in_channels: int, out_channels: int, n: int = 1, shortcut: bool = True,
                 expansion: float = 0.5, depthwise: bool = False):
        super().__init__()
        hidden = int(out_channels * expansion)
        self.conv1 = BaseConv(in_channels, hidden, 1)
        self.conv2 = BaseConv(in_channels, hidden, 1)
        self.conv3 = BaseConv(2 * hidden, out_channels, 1)
        self.m = nn.Sequential(*(Bottleneck(hidden, hidden, shortcut, 1.0, depthwise) for _ in range(n)))

    def forward(self, x: Tensor) -> Tensor:
        # This call order (conv1, conv2, m, conv3) is the order of the exported graph; the loader relies on it.
        x_1 = self.conv1(x)
        x_2 = self.conv2(x)
        return self.conv3(torch.cat((self.m(x_1), x_2), dim=1))


class SPPBottleneck(nn.Module):
    """Spatial pyramid pooling (YOLOv3-SPP): 1x1 conv, concat of itself and max-pools 5/9/13, 1x1 conv."""

    def __init__(self, in_channels: int, out_channels: int, kernel_sizes: tuple[int, ...] = (5, 9, 13)):
        super().__init__()
        hidden = in_channels // 2
        self.conv1 = BaseConv(in_channels, hidden, 1)
        self.m = nn.ModuleList(nn.MaxPool2d(k, stride=1, padding=k // 2) for k in kernel_sizes)
        self.conv2 = BaseConv(hidden * (len(kernel_sizes) + 1), out_channels, 1)

    def forward(self, x: Tensor) -> Tensor:
        x = self.conv1(x)
        return self.conv2(torch.cat([x, *(pool(x) for pool in self.m)], dim=1))


class Focus(nn.Module):
    """Space-to-depth: every 2x2 pixel block becomes 4 channels (half the size, 4x the channels), then a conv."""

    def __init__(self, in_channels: int, out_channels: int, ksize: int = 1, stride: int = 1):
        super().__init__()
        self.conv = BaseConv(in_channels * 4, out_channels, ksize, stride)

    def forward(self, x: Tensor) -> Tensor:
        top_left = x[..., ::2, ::2]
        top_right = x[..., ::2, 1::2]
        bottom_left = x[..., 1::2, ::2]
        bottom_right = x[..., 1::2, 1::2]
        return self.conv(torch.cat((top_left, bottom_left, top_right, bottom_right), dim=1))
