"""A gun verifier ONNX file for tests: a real graph, judging a crop by how red it is."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

SIDE = 16


def write_redness_verifier(path: Path, detector_sha256: str, without: tuple[str, ...] = (), **metadata: str) -> Path:
    """sigmoid((mean red - mean blue) / 20) over the crop: red crops are guns, blue ones are not. `without`: metadata
    keys left out."""
    crops = helper.make_tensor_value_info("crops", TensorProto.FLOAT, ["batch", 3, SIDE, SIDE])
    out = helper.make_tensor_value_info("gun_probability", TensorProto.FLOAT, ["batch"])
    constants = [helper.make_tensor(name, TensorProto.INT64, [len(v)], v) for name, v in
                 [("r0", [0]), ("r1", [1]), ("b0", [2]), ("b1", [3]), ("axis", [1])]]
    nodes = [
        helper.make_node("Slice", ["crops", "r0", "r1", "axis"], ["red"]),
        helper.make_node("Slice", ["crops", "b0", "b1", "axis"], ["blue"]),
        helper.make_node("Sub", ["red", "blue"], ["difference"]),
        helper.make_node("ReduceMean", ["difference"], ["mean"], axes=[1, 2, 3], keepdims=0),
        helper.make_node("Div", ["mean", "twenty"], ["scaled"]),
        helper.make_node("Sigmoid", ["scaled"], ["gun_probability"]),
    ]
    twenty = helper.make_tensor("twenty", TensorProto.FLOAT, [], [20.0])
    graph = helper.make_graph(nodes, "redness", [crops], [out], initializer=[*constants, twenty])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    entries = {"gunwatch.kind": "gun-verifier", "gunwatch.input_size": str(SIDE), "gunwatch.context": "1.5",
               "gunwatch.floor": "0.1", "gunwatch.top_k": "3", "gunwatch.detector_weight": "0.5",
               "gunwatch.threshold": "0.4", "gunwatch.alarm_threshold": "0.35",
               "gunwatch.detector_sha256": detector_sha256, **metadata}
    for key, value in entries.items():
        if key not in without:
            model.metadata_props.add(key=key, value=value)
    onnx.save(model, path)
    return path


def write_conv_verifier(path: Path, detector_sha256: str, side: int = 32, seed: int = 0, **metadata: str) -> Path:
    """A small convolutional verifier with seeded random weights (conv, ReLU, strided conv, ReLU, average pool,
    linear, sigmoid): the kind of graph INT8 quantisation works on, unlike the redness verifier's arithmetic."""
    rng = np.random.default_rng(seed)

    def weights(name: str, *shape: int, scale: float) -> onnx.TensorProto:
        return numpy_helper.from_array(rng.normal(0, scale, shape).astype(np.float32), name)

    crops = helper.make_tensor_value_info("crops", TensorProto.FLOAT, ["batch", 3, side, side])
    out = helper.make_tensor_value_info("gun_probability", TensorProto.FLOAT, ["batch"])
    initializers = [
        numpy_helper.from_array(np.array([1 / 255], np.float32), "to_unit"),
        weights("w1", 8, 3, 3, 3, scale=0.4), weights("b1", 8, scale=0.1),
        weights("w2", 16, 8, 3, 3, scale=0.2), weights("b2", 16, scale=0.1),
        weights("w3", 16, 1, scale=0.5), weights("b3", 1, scale=0.1),
        numpy_helper.from_array(np.array([-1], np.int64), "flat"),
    ]
    nodes = [
        helper.make_node("Mul", ["crops", "to_unit"], ["unit"]),
        helper.make_node("Conv", ["unit", "w1", "b1"], ["c1"], pads=[1, 1, 1, 1]),
        helper.make_node("Relu", ["c1"], ["r1"]),
        helper.make_node("Conv", ["r1", "w2", "b2"], ["c2"], pads=[1, 1, 1, 1], strides=[2, 2]),
        helper.make_node("Relu", ["c2"], ["r2"]),
        helper.make_node("GlobalAveragePool", ["r2"], ["pooled"]),
        helper.make_node("Flatten", ["pooled"], ["features"]),
        helper.make_node("Gemm", ["features", "w3", "b3"], ["logit"]),
        helper.make_node("Reshape", ["logit", "flat"], ["flat_logit"]),
        helper.make_node("Sigmoid", ["flat_logit"], ["gun_probability"]),
    ]
    graph = helper.make_graph(nodes, "conv-verifier", [crops], [out], initializer=initializers)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    entries = {"gunwatch.kind": "gun-verifier", "gunwatch.input_size": str(side), "gunwatch.context": "1.8",
               "gunwatch.floor": "0.03", "gunwatch.top_k": "8", "gunwatch.detector_weight": "0.25",
               "gunwatch.threshold": "0.6", "gunwatch.alarm_threshold": "0.7",
               "gunwatch.detector_sha256": detector_sha256, **metadata}
    for key, value in entries.items():
        model.metadata_props.add(key=key, value=value)
    onnx.checker.check_model(model)
    onnx.save(model, path)
    return path
