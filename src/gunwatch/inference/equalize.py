"""Cross-layer equalisation of a ReLU network's activations before INT8 (issue 11 item 5).

An INT8 activation tensor has one scale for all its channels, so a channel whose values span a hundredth of
its neighbours' is left with a few levels. ReLU is positively homogeneous, so for a convolution A whose
output goes through a ReLU only into convolutions B:

    B(relu(A(x))) = B'(relu(A'(x)))   with A's output channel i divided by s_i and B's input channel i
                                       multiplied by s_i (s_i > 0),

exactly, in float. Choosing s_i moves range between the activation and B's weights (Nagel et al. 2019, "Data-
free quantization through weight equalization and bias correction"; SmoothQuant's migration strength, Xiao et
al. 2023): with a_i the channel's calibrated range and w_i the largest |weight| B gives it, s_i = sqrt(a_i / w_i)
leaves both at sqrt(a_i w_i), balancing the activation's one scale against B's per-output-channel weight scales.
A depthwise B has a filter of its own per channel, quantised per channel, so it takes any s_i for free: there
s_i = a_i / max(a) gives every channel the same range. A's weights are quantised per output channel as well,
so dividing them costs nothing.

Only pairs whose ReLU output feeds convolutions alone are equalised (74 of the 104 in gunwatch's ReLU
detector); a ReLU output that also goes into a Concat, Add or pooling would need the same s_i on every path.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable

import numpy as np
import onnx
import onnxruntime as ort
from onnx import numpy_helper

MIN_RANGE = 1e-8  # below this a channel is dead (always 0 after the ReLU) and keeps s = 1
MAX_SCALE = 1e3  # bound s_i both ways: an extreme ratio would only move the problem into the weights
ROUNDS = 4


def relu_conv_pairs(model: onnx.ModelProto) -> list[tuple[onnx.NodeProto, onnx.NodeProto, list[onnx.NodeProto]]]:
    """(producing Conv, Relu, consuming Convs) for every Relu fed by a Conv it alone reads and read only by Convs."""
    consumers: dict[str, list[onnx.NodeProto]] = defaultdict(list)
    for node in model.graph.node:
        for name in node.input:
            consumers[name].append(node)
    producer = {output: node for node in model.graph.node for output in node.output}
    outputs = {output.name for output in model.graph.output}
    pairs = []
    for relu in model.graph.node:
        if relu.op_type != "Relu":
            continue
        conv = producer.get(relu.input[0])
        readers = consumers[relu.output[0]]
        if (conv is None or conv.op_type != "Conv" or len(consumers[relu.input[0]]) != 1
                or relu.input[0] in outputs or relu.output[0] in outputs):
            continue
        if readers and all(reader.op_type == "Conv" and reader.input[0] == relu.output[0] for reader in readers):
            pairs.append((conv, relu, readers))
    return pairs


def channel_ranges(model: onnx.ModelProto, names: Iterable[str], batches: Iterable[dict[str, np.ndarray]]
                   ) -> dict[str, np.ndarray]:
    """The largest value of each channel of the named tensors (N x C x H x W) over the batches."""
    names = list(names)
    probe = onnx.ModelProto()
    probe.CopyFrom(model)
    known = {output.name for output in probe.graph.output}
    probe.graph.output.extend(onnx.ValueInfoProto(name=name) for name in names if name not in known)
    options = ort.SessionOptions()
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL  # keep every named tensor
    session = ort.InferenceSession(probe.SerializeToString(), options, providers=["CPUExecutionProvider"])
    ranges: dict[str, np.ndarray] = {}
    for feed in batches:
        for name, value in zip(names, session.run(names, feed), strict=True):
            peak = value.max(axis=(0, 2, 3))
            ranges[name] = np.maximum(ranges[name], peak) if name in ranges else peak
    if not ranges:
        raise ValueError("no calibration batches")
    return ranges


def equalization_scales(activation_range: np.ndarray, readers: list[tuple[np.ndarray, int]]) -> np.ndarray:
    """s_i for one pair: activation_range (C,) of the ReLU output; readers: (weight, group) of each consuming Conv."""
    dense = [np.abs(weight).max(axis=(0, 2, 3)) for weight, group in readers if group == 1]
    alive = activation_range > MIN_RANGE
    scales = np.ones_like(activation_range, dtype=np.float64)
    if dense:
        weight_range = np.max(dense, axis=0)
        usable = alive & (weight_range > MIN_RANGE)
        scales[usable] = np.sqrt(activation_range[usable] / weight_range[usable])
        scales[usable] /= np.exp(np.log(scales[usable]).mean())  # s's geometric mean 1: the sizes stay as trained
    elif alive.any():
        scales[alive] = activation_range[alive] / activation_range[alive].max()
    return np.clip(scales, 1 / MAX_SCALE, MAX_SCALE)


def equalize(model: onnx.ModelProto, batches: Iterable[dict[str, np.ndarray]]) -> tuple[onnx.ModelProto, int]:
    """A copy of `model` with every Conv-ReLU-Conv pair equalised on ranges calibrated by `batches` (feeds of the
    model's input); returns it and the number of pairs. It computes what `model` computes."""
    model_copy = onnx.ModelProto()
    model_copy.CopyFrom(model)
    pairs = relu_conv_pairs(model_copy)
    if not pairs:
        return model_copy, 0
    ranges = channel_ranges(model_copy, [relu.output[0] for _, relu, _ in pairs], batches)
    tensors = {t.name: t for t in model_copy.graph.initializer}
    readers_of: dict[str, int] = defaultdict(int)
    for node in model_copy.graph.node:
        for name in node.input:
            readers_of[name] += 1
    usable = [(conv, relu, readers) for conv, relu, readers in pairs if can_scale(conv, readers, tensors, readers_of)]
    activation = {relu.output[0]: ranges[relu.output[0]].astype(np.float64) for _, relu, _ in usable}
    # A reader is often the next pair's producer, whose rows that pair rescales, which moves the column ranges
    # this pair balanced against: a few rounds settle it (as Nagel et al. iterate). The ranges follow exactly
    # (a channel divided by s has its range divided by s), so the calibration runs once.
    for _ in range(ROUNDS):
        for conv, relu, readers in usable:
            reader_weights = [(numpy_helper.to_array(tensors[r.input[1]]), group_of(r)) for r in readers]
            scales = equalization_scales(activation[relu.output[0]], reader_weights)
            scale_tensor(tensors, conv.input[1], 1 / scales, axis=0)
            if len(conv.input) > 2 and conv.input[2]:
                scale_tensor(tensors, conv.input[2], 1 / scales, axis=0)
            for reader, (_, group) in zip(readers, reader_weights, strict=True):
                # A dense reader's input channels are axis 1 of its weight; a depthwise reader's filters, axis 0.
                scale_tensor(tensors, reader.input[1], scales, axis=1 if group == 1 else 0)
            activation[relu.output[0]] = activation[relu.output[0]] / scales
    return model_copy, len(usable)


def can_scale(conv: onnx.NodeProto, readers: list[onnx.NodeProto], tensors: dict[str, onnx.TensorProto],
              readers_of: dict[str, int]) -> bool:
    """Whether a pair's weights are its own initializers and its readers dense or depthwise."""
    names = [conv.input[1], *conv.input[2:3], *(reader.input[1] for reader in readers)]
    if any(name not in tensors or readers_of[name] != 1 for name in names):
        return False  # a weight shared with another node, or computed: scaling it would change that node too
    # Grouped convolutions that are neither (none in YOLOX-Nano) would need s per group.
    return all(group_of(r) == 1 or tensors[r.input[1]].dims[1] == 1 for r in readers)


def group_of(conv: onnx.NodeProto) -> int:
    return next((attribute.i for attribute in conv.attribute if attribute.name == "group"), 1)


def scale_tensor(tensors: dict[str, onnx.TensorProto], name: str, scales: np.ndarray, axis: int) -> None:
    """Multiply an initializer along `axis` by `scales`, in place (each of a YOLOX export's weights has one reader)."""
    value = numpy_helper.to_array(tensors[name]).astype(np.float64)
    shape = [1] * value.ndim
    shape[axis] = -1
    tensors[name].CopyFrom(numpy_helper.from_array((value * scales.reshape(shape)).astype(np.float32), name))
