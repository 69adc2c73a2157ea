"""A small YOLOX-shaped ONNX graph built with onnx.helper: the export's contract without torch or training.

Like `export_yolox` files: input `images` N x 3 x H x W (BGR 0..255) with free batch, height and width;
output N x points x (5 + classes) over strides 8, 16 and 32, raw box offsets then sigmoid-ed objectness
and class scores; gunwatch metadata. Its seeded weights are scaled so that every layer keeps unit-size
activations, so, unlike an untrained network's, its outputs follow its input: an INT8 copy that breaks
the preprocessing or the scales shows.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

CLASSES = ("person", "handgun")
WIDTH = 16


class _Graph:
    def __init__(self, seed: int, activation: str = "silu"):
        self.rng = np.random.default_rng(seed)
        self.activation = activation
        self.nodes: list[onnx.NodeProto] = []
        self.initializers: list[onnx.TensorProto] = []

    def constant(self, name: str, value: np.ndarray) -> str:
        self.initializers.append(numpy_helper.from_array(value, name))
        return name

    def node(self, op: str, inputs: list[str], name: str, **attributes: object) -> str:
        self.nodes.append(helper.make_node(op, inputs, [name], name=name, **attributes))
        return name

    def conv(self, x: str, name: str, c_in: int, c_out: int, kernel: int, stride: int, groups: int = 1,
             gain: float = 1.0, activated: bool = True) -> str:
        fan_in = c_in // groups * kernel * kernel
        weight = self.rng.normal(0, gain * np.sqrt(2 / fan_in), (c_out, c_in // groups, kernel, kernel))
        bias = self.rng.normal(0, 0.1, c_out)
        y = self.node("Conv", [x, self.constant(f"{name}.w", weight.astype(np.float32)),
                               self.constant(f"{name}.b", bias.astype(np.float32))], name,
                      kernel_shape=[kernel, kernel], strides=[stride, stride], pads=[kernel // 2] * 4, group=groups)
        if not activated:
            return y
        if self.activation == "relu":
            return self.node("Relu", [y], f"{name}.relu")
        return self.node("Mul", [y, self.node("Sigmoid", [y], f"{name}.sigmoid")], f"{name}.silu")


def yolox_graph(path: Path, input_size: int = 64, seed: int = 0, threshold: float = 0.4,
                fixed_size: bool = False, activation: str = "silu") -> Path:
    """Write the graph to `path` with the metadata `gunwatch.inference.loading` expects; `fixed_size`: its input
    takes only input_size x input_size (as some third-party exports do), not any height and width; `activation`:
    "silu" (YOLOX's, as Sigmoid and Mul) or "relu"."""
    g = _Graph(seed, activation)
    outputs = 5 + len(CLASSES)
    x = g.conv("images", "stem", 3, WIDTH, 3, 2, gain=1 / 128)  # pixels are 0..255
    x = g.conv(x, "down4", WIDTH, WIDTH, 3, 2)
    levels = []
    for stride in (8, 16, 32):
        x = g.conv(x, f"dw{stride}", WIDTH, WIDTH, 3, 2, groups=WIDTH)  # depthwise, as in YOLOX-Nano
        x = g.conv(x, f"pw{stride}", WIDTH, WIDTH, 1, 1)
        pred = g.conv(x, f"pred{stride}", WIDTH, outputs, 1, 1, gain=4.0, activated=False)
        keep_batch = g.constant(f"shape{stride}", np.array([0, outputs, -1], np.int64))
        levels.append(g.node("Reshape", [pred, keep_batch], f"flat{stride}"))
    points = g.node("Transpose", [g.node("Concat", levels, "levels", axis=2)], "points", perm=[0, 2, 1])
    starts, ends, axes = (g.constant(n, np.array([v], np.int64)) for n, v in
                          (("four", 4), ("end", outputs), ("last", 2)))
    zero = g.constant("zero", np.array([0], np.int64))
    boxes = g.node("Slice", [points, zero, starts, axes], "boxes")
    scores = g.node("Sigmoid", [g.node("Slice", [points, starts, ends, axes], "logits")], "scores")
    g.nodes.append(helper.make_node("Concat", [boxes, scores], ["output"], name="output", axis=2))
    graph = helper.make_graph(
        g.nodes, "yolox_shaped",
        [helper.make_tensor_value_info("images", TensorProto.FLOAT,
                                       ["batch", 3, *([input_size] * 2 if fixed_size else ["height", "width"])])],
        [helper.make_tensor_value_info("output", TensorProto.FLOAT, ["batch", "points", outputs])],
        g.initializers,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    for key, value in {"gunwatch.kind": "yolox", "gunwatch.input_size": str(input_size),
                       "gunwatch.classes": ",".join(CLASSES), "gunwatch.channel_order": "bgr",
                       "gunwatch.threshold": str(threshold)}.items():
        model.metadata_props.add(key=key, value=value)
    onnx.checker.check_model(model)
    onnx.save(model, str(path))
    return path
