"""Quantisation-aware training: the rounding it simulates, what it leaves alone, and a short run through it."""

from __future__ import annotations

import copy

import pytest

torch = pytest.importorskip("torch")

from torch import nn  # noqa: E402

from gunwatch.models.yolox.blocks import BaseConv  # noqa: E402
from gunwatch.training.detector_train import detector_at_width  # noqa: E402
from gunwatch.training.quantization_aware import (  # noqa: E402
    RoundedBaseConv,
    RoundedPlainConv,
    folded,
    freeze_ranges,
    observe_ranges,
    plain_weights,
    rounded_weight,
    simulate_int8,
)

pytestmark = pytest.mark.usefixtures("one_thread")


def trained_looking(model: nn.Module) -> nn.Module:
    """Batch norms with statistics and affine terms other than the identity, so folding has work to do."""
    generator = torch.Generator().manual_seed(0)
    for module in model.modules():
        if isinstance(module, nn.BatchNorm2d):
            shape = module.running_mean.shape
            module.running_mean.copy_(torch.randn(shape, generator=generator))
            module.running_var.copy_(torch.rand(shape, generator=generator) + 0.5)
            module.weight.data.copy_(torch.rand(shape, generator=generator) + 0.5)
            module.bias.data.copy_(torch.randn(shape, generator=generator))
    return model.eval()


def test_a_weight_is_rounded_to_255_levels_per_output_channel_symmetric_about_zero() -> None:
    weight = torch.randn(4, 3, 3, 3) * torch.tensor([0.01, 0.1, 1.0, 10.0]).reshape(-1, 1, 1, 1)
    rounded = rounded_weight(weight)
    for channel, original in zip(rounded, weight, strict=True):
        step = original.abs().max() / 127
        levels = channel / step
        torch.testing.assert_close(levels, levels.round(), atol=1e-3, rtol=0)  # on the channel's own grid
        assert levels.abs().max() <= 127 + 1e-3
        assert (channel - original).abs().max() <= step / 2 + 1e-6  # nearest level
    weight.requires_grad_(True)
    rounded_weight(weight).sum().backward()
    torch.testing.assert_close(weight.grad, torch.ones_like(weight))  # straight through


def test_folding_computes_what_conv_then_batch_norm_computes() -> None:
    layer = trained_looking(BaseConv(3, 5, 3))
    x = torch.randn(2, 3, 8, 8)
    weight, bias = folded(layer.conv, layer.bn)
    expected = layer.bn(layer.conv(x))
    got = nn.functional.conv2d(x, weight, bias, layer.conv.stride, layer.conv.padding)
    torch.testing.assert_close(got, expected, atol=1e-5, rtol=1e-5)


def test_every_convolution_rounds_and_the_float_network_is_untouched() -> None:
    model = trained_looking(detector_at_width(0.25))
    original = {name: value.clone() for name, value in model.state_dict().items()}
    simulate_int8(model)
    base = [m for m in model.modules() if isinstance(m, BaseConv)]
    assert base and all(isinstance(m, RoundedBaseConv) for m in base)
    plain = [m for m in model.modules() if isinstance(m, nn.Conv2d) and not any(b.conv is m for b in base)]
    assert len(plain) == 9 and all(isinstance(m, RoundedPlainConv) for m in plain)  # 3 levels x cls, reg, obj
    assert simulate_int8(model) is model and len(plain_weights(model.state_dict())) == len(original)  # once only

    kept = plain_weights(model.state_dict())
    assert kept.keys() == original.keys() and all(torch.equal(kept[k], original[k]) for k in original)
    again = detector_at_width(0.25)
    again.load_state_dict(kept)  # what is exported: the float network


def test_rounded_outputs_stay_near_the_float_ones_and_train_mode_keeps_batch_norm_statistics() -> None:
    model = trained_looking(detector_at_width(0.25))
    images = torch.rand(2, 3, 64, 64) * 255
    with torch.no_grad():
        expected = model(images)
    rounded = simulate_int8(copy.deepcopy(model))
    observe_ranges(rounded, [images])
    freeze_ranges(rounded)
    with torch.no_grad():
        got = rounded.eval()(images)
    assert not torch.equal(got, expected)  # rounding happened
    torch.testing.assert_close(got[..., 4:], expected[..., 4:], atol=0.25, rtol=0)  # scores: near, not equal

    statistics = {n: v.clone() for n, v in rounded.state_dict().items() if "running_" in n}
    rounded.train()
    loss = sum(level.square().mean() for level in rounded.forward_levels(images))
    loss.backward()
    assert all(torch.equal(rounded.state_dict()[n], v) for n, v in statistics.items())  # frozen
    stem = rounded.backbone.stem.conv
    assert stem.conv.weight.grad is not None and stem.bn.bias.grad is not None
