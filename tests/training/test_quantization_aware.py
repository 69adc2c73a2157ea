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


def test_rounded_outputs_stay_near_the_float_ones() -> None:
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


def test_training_normalises_with_the_batch_as_float_training_does() -> None:
    """In train mode a rounded layer is its float layer with a rounded weight: batch statistics, running ones
    updated, gradients of the same size (training through the frozen fold, tried first, did not train)."""
    torch.manual_seed(0)
    float_layer = trained_looking(BaseConv(12, 8, 3)).train()
    rounded = simulate_int8(copy.deepcopy(float_layer))
    for point in (rounded.fake_quant_input, rounded.fake_quant_output):
        point.disable_fake_quant()  # the weight's rounding alone
    pixels = torch.rand(4, 12, 16, 16) * 255
    outputs = [layer(pixels) for layer in (float_layer, rounded)]
    torch.testing.assert_close(outputs[1], outputs[0], atol=0.05, rtol=0.05)
    torch.testing.assert_close(rounded.bn.running_mean, float_layer.bn.running_mean, atol=0.5, rtol=0.01)
    assert not torch.equal(rounded.bn.running_mean, trained_looking(BaseConv(12, 8, 3)).bn.running_mean)
    for output in outputs:
        output.square().mean().backward()
    float_grad, rounded_grad = float_layer.conv.weight.grad.norm(), rounded.conv.weight.grad.norm()
    assert 0.5 < rounded_grad / float_grad < 2, (rounded_grad, float_grad)
    assert rounded.bn.bias.grad is not None
