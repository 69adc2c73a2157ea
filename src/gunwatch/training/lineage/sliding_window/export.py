"""The window classifier to ONNX in its convolutional form: free batch, height and width."""

from __future__ import annotations

from pathlib import Path

import torch

from gunwatch.models.lineage.sliding_window import WindowClassifier
from gunwatch.training.export import OPSET, write_metadata
from gunwatch.training.lineage.sliding_window.config import SlidingWindowTrainConfig


def export_sliding_window(model: WindowClassifier, scales: list[float], config: SlidingWindowTrainConfig,
                          path: Path) -> Path:
    """ONNX graph: `images` N x 3 x H x W RGB 0..1 -> `gun_probability` N x rows x cols, `box_deltas`
    N x 4 x rows x cols (one cell per window; see gunwatch.inference.lineage.sliding_window)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    example = torch.rand(1, 3, model.window + 2 * model.stride, model.window + 3 * model.stride)
    torch.onnx.export(
        model.eval(),
        (example,),
        str(path),
        input_names=["images"],
        output_names=["gun_probability", "box_deltas"],
        dynamic_axes={
            "images": {0: "batch", 2: "height", 3: "width"},
            "gun_probability": {0: "batch", 1: "rows", 2: "cols"},
            "box_deltas": {0: "batch", 2: "rows", 3: "cols"},
        },
        opset_version=OPSET,
        dynamo=False,
    )
    write_metadata(path, {
        "gunwatch.kind": "sliding-window",
        "gunwatch.classes": "handgun",
        "gunwatch.input_size": str(model.window),
        "gunwatch.window": str(model.window),
        "gunwatch.stride": str(model.stride),
        "gunwatch.pyramid_scales": ",".join(repr(float(s)) for s in scales),
        "gunwatch.pyramid_step": repr(float(config.pyramid_step)),
        "gunwatch.nms_iou": repr(float(config.nms_iou)),
        "gunwatch.pre_nms_top_k": str(config.pre_nms_top_k),
        "gunwatch.max_detections": str(config.max_detections),
    })
    return path
