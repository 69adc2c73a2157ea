"""The quantised weights of an INT8 (QDQ) ONNX file, for the quantiser's tests."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
from onnx import numpy_helper


def int8_weights(model_path: Path) -> list[np.ndarray]:
    """Every INT8 initializer a DequantizeLinear reads."""
    model = onnx.load(str(model_path))
    dequantized = {node.input[0] for node in model.graph.node if node.op_type == "DequantizeLinear"}
    return [numpy_helper.to_array(init) for init in model.graph.initializer
            if init.name in dequantized and init.data_type == onnx.TensorProto.INT8]
