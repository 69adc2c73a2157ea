"""The speed reference: the public COCO YOLOX-Nano, opened at any input size.

The public export is fixed at 1 x 3 x 416 x 416: its three Reshape nodes carry constant shapes
(1, 85, 52 * 52) and so on. Replacing those with (0, 85, -1) (keep the batch, infer the points) and
naming the input's axes frees batch, height and width; everything else in the graph is convolutional,
so the same weights then run at 320 or 640 exactly as the original network would.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
from onnx import numpy_helper

from gunwatch.inference.onnx_session import ModelError, session_options
from gunwatch.inference.onnx_yolox import COCO_NANO_METADATA, OnnxYolox


def free_input_size(model: onnx.ModelProto) -> onnx.ModelProto:
    """A copy of a YOLOX export whose batch, height and width are free axes."""
    model = onnx.ModelProto.FromString(model.SerializeToString())
    graph = model.graph
    initializers = {init.name: init for init in graph.initializer}
    for node in graph.node:
        if node.op_type != "Reshape":
            continue
        shape = initializers.get(node.input[1])
        if shape is None:
            raise ModelError(f"reshape {node.name!r} takes a computed shape; cannot free the input size")
        channels = int(numpy_helper.to_array(shape)[1])
        shape.CopyFrom(numpy_helper.from_array(np.array([0, channels, -1], np.int64), shape.name))
    dims = graph.input[0].type.tensor_type.shape.dim
    for dim, name in zip(dims, ("batch", "channels", "height", "width"), strict=True):
        if name != "channels":
            dim.ClearField("dim_value")
            dim.dim_param = name
    # Shapes recorded for the fixed size would be wrong now; ONNX Runtime infers them again.
    del graph.value_info[:]
    for output in graph.output:
        output.type.tensor_type.ClearField("shape")
    return model


def reference_detector(path: Path, input_size: int, threads: int | None = None) -> OnnxYolox:
    """The COCO YOLOX-Nano behind the Detector interface at `input_size` (a multiple of 32)."""
    if not path.is_file():
        raise ModelError(f"{path}: reference model file not found")
    model = free_input_size(onnx.load(str(path)))
    session = ort.InferenceSession(
        model.SerializeToString(), session_options(threads), providers=["CPUExecutionProvider"]
    )
    return OnnxYolox(path, session, {**COCO_NANO_METADATA, "gunwatch.input_size": str(input_size)})
