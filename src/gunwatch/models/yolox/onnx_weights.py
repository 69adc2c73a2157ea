"""Load YOLOX weights from a batch-norm-folded ONNX export (e.g. the COCO `yolox_nano_coco.onnx`).

The export holds one Conv node per convolution, with weight and bias; its batch norms were folded into
them. The initializers are not stored in graph order (the head's unfolded `*_preds` come first), so the
loader walks the Conv *nodes* in graph order and pairs them with the model's `nn.Conv2d` layers in the
order a forward pass calls them (found with hooks on a small dummy input).

Choice of layout: `BaseConv` keeps YOLOX's Conv2d(bias=False) + BatchNorm2d, so the original PyTorch
state dict (`yolox_nano.pth`, YOLOX release 0.1.1rc0) maps onto it and training has its batch norms. A
folded conv loads as conv.weight = W and the batch norm as an identity that adds the folded bias:
weight 1, bias b, running_mean 0, running_var 1 - eps, so in eval mode bn(z) = z / sqrt(1) + b exactly.
In train mode a batch norm uses batch statistics instead, which would throw the loaded scale away:
call `calibrate_folded_batchnorms` on a few real batches before fine-tuning with batch norms training.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import onnx
import torch
from onnx import numpy_helper
from torch import Tensor, nn

from gunwatch.checksums import verify_sha256
from gunwatch.models.yolox.blocks import BaseConv

YOLOX_NANO_ONNX_SHA256 = "695e750a5d5754bb5a8d5325643b59282191a7e7a564e435a415fd3c578eab14"
PROBE_SIZE = 64  # dummy input side used to find the call order of the convolutions (a multiple of 32)


@dataclass(frozen=True)
class OnnxConv:
    """One Conv node of the export: its initializers and the attributes that the shapes do not show."""

    node: str
    weight_name: str
    weight: np.ndarray
    bias_name: str
    bias: np.ndarray
    stride: tuple[int, ...]
    groups: int
    pads: tuple[int, ...]


def read_onnx_convs(onnx_path: Path | str, expected_sha256: str | None = None) -> list[OnnxConv]:
    """The Conv nodes of an ONNX file in graph order; checks the file's sha256 when one is given."""
    onnx_path = Path(onnx_path)
    if expected_sha256 is not None:
        verify_sha256(onnx_path, expected_sha256)
    graph = onnx.load(str(onnx_path)).graph
    initializers = {init.name: init for init in graph.initializer}
    # The exporter stores equal tensors once (e.g. the head's untrained biases) and names the copies through
    # Identity nodes.
    for node in graph.node:
        if node.op_type == "Identity" and node.input[0] in initializers:
            initializers[node.output[0]] = initializers[node.input[0]]
    return [_read_conv(node, initializers) for node in graph.node if node.op_type == "Conv"]


def _read_conv(node: onnx.NodeProto, initializers: dict[str, onnx.TensorProto]) -> OnnxConv:
    if len(node.input) != 3:
        raise ValueError(f"Conv node {node.name} has no bias input: not a batch-norm-folded export")
    weight_name, bias_name = node.input[1], node.input[2]
    attributes = {attr.name: onnx.helper.get_attribute_value(attr) for attr in node.attribute}
    return OnnxConv(
        node=node.name,
        weight_name=weight_name,
        weight=numpy_helper.to_array(initializers[weight_name]).copy(),
        bias_name=bias_name,
        bias=numpy_helper.to_array(initializers[bias_name]).copy(),
        stride=tuple(attributes.get("strides", (1, 1))),
        groups=int(attributes.get("group", 1)),
        pads=tuple(attributes.get("pads", (0, 0, 0, 0))),
    )


def convs_in_call_order(model: nn.Module, probe_size: int = PROBE_SIZE) -> list[tuple[str, nn.Conv2d]]:
    """The model's Conv2d layers, named, in the order one forward pass calls them (each must run once)."""
    names = {module: name for name, module in model.named_modules() if isinstance(module, nn.Conv2d)}
    called: list[nn.Conv2d] = []
    hooks = [conv.register_forward_hook(lambda m, _i, _o: called.append(m)) for conv in names]
    was_training = model.training
    try:
        with torch.no_grad():
            model.eval()(torch.zeros(1, 3, probe_size, probe_size))
    finally:
        model.train(was_training)
        for hook in hooks:
            hook.remove()
    if len(set(called)) != len(called) or len(called) != len(names):
        raise ValueError(f"{len(names)} Conv2d layers but {len(called)} calls: each must run exactly once")
    return [(names[conv], conv) for conv in called]


def load_yolox_onnx_weights(model: nn.Module, onnx_path: Path | str,
                            expected_sha256: str | None = YOLOX_NANO_ONNX_SHA256) -> None:
    """Load a batch-norm-folded YOLOX export into `model` (in place); pass expected_sha256=None for another file.

    Raises ValueError naming the layer and the initializer on any shape or attribute mismatch.
    """
    assign_onnx_convs(model, read_onnx_convs(onnx_path, expected_sha256))


def assign_onnx_convs(model: nn.Module, onnx_convs: list[OnnxConv]) -> None:
    """Copy each ONNX conv onto the model's conv called at the same position (see the module docstring)."""
    convs = convs_in_call_order(model)
    if len(convs) != len(onnx_convs):
        raise ValueError(f"the model has {len(convs)} Conv2d layers, the ONNX file {len(onnx_convs)} Conv nodes")
    batch_norms = {m.conv: m.bn for m in model.modules() if isinstance(m, BaseConv)}
    for (name, conv), source in zip(convs, onnx_convs, strict=True):
        _check_compatible(name, conv, source)
        with torch.no_grad():
            conv.weight.copy_(torch.from_numpy(source.weight))
            bias = torch.from_numpy(source.bias)
            if conv in batch_norms:
                _set_identity_with_bias(batch_norms[conv], bias)
            elif conv.bias is not None:
                conv.bias.copy_(bias)
            else:
                raise ValueError(f"layer {name!r} has neither a bias nor a batch norm for {source.bias_name!r}")


def _check_compatible(name: str, conv: nn.Conv2d, source: OnnxConv) -> None:
    where = f"layer {name!r} <- ONNX {source.node} (initializer {source.weight_name!r})"
    if tuple(conv.weight.shape) != source.weight.shape:
        raise ValueError(f"{where}: weight shape {tuple(conv.weight.shape)} != {source.weight.shape}")
    if source.bias.shape != (conv.out_channels,):
        raise ValueError(f"{where}: bias {source.bias_name!r} shape {source.bias.shape} != ({conv.out_channels},)")
    pads = tuple(conv.padding) * 2
    if tuple(conv.stride) != source.stride or conv.groups != source.groups or pads != source.pads:
        raise ValueError(f"{where}: stride/groups/pads {conv.stride}/{conv.groups}/{pads} != "
                         f"{source.stride}/{source.groups}/{source.pads}")


def _set_identity_with_bias(bn: nn.BatchNorm2d, bias: Tensor) -> None:
    """Eval-mode bn(z) = z + bias exactly: (z - 0) / sqrt((1 - eps) + eps) * 1 + bias."""
    bn.weight.fill_(1.0)
    bn.bias.copy_(bias)
    bn.running_mean.zero_()
    bn.running_var.fill_(1.0 - bn.eps)
    bn.num_batches_tracked.zero_()


def calibrate_folded_batchnorms(model: nn.Module, batches: Iterable[Tensor]) -> None:
    """Give every BaseConv's batch norm real statistics without changing what the model computes in eval mode.

    For a conv output z with per-channel batch mean m and variance v over `batches`, and the current eval
    transform bn(z) = a z + c, sets running_mean = m, running_var = v, weight = a sqrt(v + eps) and
    bias = c + a m: the same a z + c in eval mode, and about the same with batch statistics in train mode.
    """
    layers = [m for m in model.modules() if isinstance(m, BaseConv)]
    sums = {layer: [0.0, 0.0, 0] for layer in layers}  # per layer: sum z, sum z^2, count

    def record(layer: BaseConv, z: Tensor) -> None:
        z = z.transpose(0, 1).flatten(start_dim=1).double()
        sums[layer][0] += z.sum(dim=1)
        sums[layer][1] += (z * z).sum(dim=1)
        sums[layer][2] += z.shape[1]

    hooks = [layer.conv.register_forward_hook(lambda _m, _i, z, layer=layer: record(layer, z)) for layer in layers]
    was_training = model.training
    try:
        with torch.no_grad():
            for images in batches:
                model.eval()(images)
    finally:
        model.train(was_training)
        for hook in hooks:
            hook.remove()
    with torch.no_grad():
        for layer, (total, total_sq, count) in sums.items():
            _reparametrise(layer.bn, total / count, total_sq / count - (total / count) ** 2)


def _reparametrise(bn: nn.BatchNorm2d, mean: Tensor, var: Tensor) -> None:
    scale = bn.weight.double() / (bn.running_var.double() + bn.eps).sqrt()
    shift = bn.bias.double() - bn.running_mean.double() * scale
    var = var.clamp(min=0.0)
    bn.running_mean.copy_(mean)
    bn.running_var.copy_(var)
    bn.weight.copy_(scale * (var + bn.eps).sqrt())
    bn.bias.copy_(shift + scale * mean)
