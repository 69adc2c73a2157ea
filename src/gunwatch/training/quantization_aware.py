"""Quantisation-aware fine-tuning: train the float network through the rounding ONNX Runtime's INT8 applies.

Static INT8 (`inference/quantize.py`) loses 0.08 mAP@0.5 on this network because one 8-bit scale per
activation tensor erases channels whose range is a hundredth of their neighbours'. Fine-tuning with that
rounding simulated in the forward pass (a straight-through gradient past it) lets the weights move to where
rounding costs little. What is simulated is what the runtime's QDQ graph rounds:

- every convolution's weight, per output channel, symmetric 8-bit, after the batch norm is folded in (with
  its running statistics, as the export folds it; in training the batch norm then normalises with the
  batch's statistics, as float training does, and keeps its running ones up to date);
- every convolution's input and output, per tensor, asymmetric 8-bit (unsigned), over a moving average of
  each batch's range. A convolution's input is the previous activation, a concatenation or a residual sum,
  each of which the runtime rounds once; its output is rounded before the activation.

Nothing here changes what is exported: the float weights stay where the network keeps them, `plain_weights`
drops the simulation's state, and `gunwatch quantize` calibrates the trained float network as usual.
"""

from __future__ import annotations

from collections.abc import Iterable

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch.ao.quantization import FakeQuantize, MovingAverageMinMaxObserver

from gunwatch.models.yolox.blocks import BaseConv

WEIGHT_LEVELS = (-127, 127)  # ORT's symmetric S8 per-channel weights (its symmetric range leaves out -128)
ACTIVATION_LEVELS = (0, 255)  # U8 activations, the combination VNNI multiplies natively
RANGE_AVERAGING = 0.01  # how fast an activation's range follows the batches
MARK = "fake_quant_"  # prefix of every module this adds; `plain_weights` drops their state


def activation_rounding() -> FakeQuantize:
    return FakeQuantize(observer=MovingAverageMinMaxObserver, quant_min=ACTIVATION_LEVELS[0],
                        quant_max=ACTIVATION_LEVELS[1], dtype=torch.quint8, qscheme=torch.per_tensor_affine,
                        averaging_constant=RANGE_AVERAGING)


def rounded_weight(weight: Tensor) -> Tensor:
    """`weight` (out, in, k, k) on 255 levels symmetric about 0 per output channel, gradient straight through."""
    absmax = weight.detach().abs().flatten(start_dim=1).amax(dim=1).clamp(min=1e-8)
    scale = (absmax / WEIGHT_LEVELS[1]).float()
    zero = torch.zeros_like(scale, dtype=torch.int32)
    return torch.fake_quantize_per_channel_affine(weight, scale, zero, 0, *WEIGHT_LEVELS)


def fold_scale(bn: nn.BatchNorm2d) -> Tensor:
    """Per output channel, what the batch norm (running statistics) multiplies a convolution's output by."""
    return bn.weight / torch.sqrt(bn.running_var + bn.eps)


def folded(conv: nn.Conv2d, bn: nn.BatchNorm2d | None) -> tuple[Tensor, Tensor | None]:
    """The weight and bias the runtime sees: the batch norm (running statistics) folded into the convolution."""
    if bn is None:
        return conv.weight, conv.bias
    scale = fold_scale(bn)
    bias = bn.bias - bn.running_mean * scale
    if conv.bias is not None:
        bias = bias + conv.bias * scale
    return conv.weight * scale.reshape(-1, 1, 1, 1), bias


class RoundedConv(nn.Module):
    """Mixin state for a convolution trained through INT8 rounding (input, folded weight, output)."""

    def add_rounding(self) -> None:
        self.add_module(f"{MARK}input", activation_rounding())
        self.add_module(f"{MARK}output", activation_rounding())

    def rounded_conv(self, x: Tensor, conv: nn.Conv2d, bn: nn.BatchNorm2d | None) -> Tensor:
        weight, bias = folded(conv, bn)
        x = getattr(self, f"{MARK}input")(x)
        y = F.conv2d(x, rounded_weight(weight), bias, conv.stride, conv.padding, conv.dilation, conv.groups)
        return getattr(self, f"{MARK}output")(y)


class RoundedBaseConv(BaseConv, RoundedConv):
    def forward(self, x: Tensor) -> Tensor:
        if not self.training:
            return self.act(self.rounded_conv(x, self.conv, self.bn))
        # Training: the weight is rounded as folded with the running statistics, and the batch norm then
        # normalises with the batch's (and updates its running ones), as in float training. Training through
        # the frozen fold instead (tried first, from the shipped model) did not train: the loss rose from 3
        # to 8 in an epoch and val mAP@0.5 fell to 0.22; this way the first epoch ends at 3.8 and 0.79.
        conv, bn = self.conv, self.bn
        scale = fold_scale(bn).reshape(-1, 1, 1, 1)
        safe = torch.where(scale.abs() > 1e-12, scale, torch.full_like(scale, 1e-12))  # a dead channel's scale
        weight = rounded_weight(conv.weight * scale) / safe
        x = getattr(self, f"{MARK}input")(x)
        z = F.conv2d(x, weight, None, conv.stride, conv.padding, conv.dilation, conv.groups)
        return self.act(getattr(self, f"{MARK}output")(bn(z)))


class RoundedPlainConv(nn.Conv2d, RoundedConv):
    """The head's prediction convolutions (a bias, no batch norm)."""

    def forward(self, x: Tensor) -> Tensor:
        return self.rounded_conv(x, self, None)


def simulate_int8(model: nn.Module) -> nn.Module:
    """Make every convolution of `model` train through INT8 rounding, in place (the module tree keeps its
    names, so the float weights load and save as before)."""
    inside_base_conv = {id(m.conv) for m in model.modules() if isinstance(m, BaseConv)}
    for module in list(model.modules()):
        if isinstance(module, BaseConv) and not isinstance(module, RoundedBaseConv):
            module.__class__ = RoundedBaseConv
            module.add_rounding()
        elif type(module) is nn.Conv2d and id(module) not in inside_base_conv:
            module.__class__ = RoundedPlainConv
            module.add_rounding()
    return model


@torch.no_grad()
def observe_ranges(model: nn.Module, batches: Iterable[Tensor]) -> None:
    """Give every rounding point a range from real batches before training starts (eval mode: the batch
    norms keep their statistics)."""
    was_training = model.training
    model.eval()
    try:
        for images in batches:
            model(images)
    finally:
        model.train(was_training)


def freeze_ranges(model: nn.Module) -> nn.Module:
    """Round with the ranges as they are (no more observing): for the averaged copy that is validated."""
    for module in model.modules():
        if isinstance(module, FakeQuantize):
            module.disable_observer()
    return model


def is_rounding_state(name: str) -> bool:
    return MARK in name


def plain_weights(state: dict[str, Tensor]) -> dict[str, Tensor]:
    """A state dict without the simulation's ranges: loads into the plain network."""
    return {name: value for name, value in state.items() if not is_rounding_state(name)}
