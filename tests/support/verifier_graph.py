"""A gun verifier ONNX file for tests: a real graph, judging a crop by how red it is."""

from __future__ import annotations

from pathlib import Path

import onnx
from onnx import TensorProto, helper

SIDE = 16


def write_redness_verifier(path: Path, detector_sha256: str, **metadata: str) -> Path:
    """sigmoid((mean red - mean blue) / 20) over the crop: red crops are guns, blue ones are not."""
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
        model.metadata_props.add(key=key, value=value)
    onnx.save(model, path)
    return path
