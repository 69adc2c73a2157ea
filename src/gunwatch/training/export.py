"""Export a trained network to ONNX, with what the runtime needs in the file's metadata."""

from __future__ import annotations

from pathlib import Path

import onnx
import torch
from torch import nn

from gunwatch.models.localizer import Localizer
from gunwatch.training.checkpoints import load_checkpoint
from gunwatch.training.config import LocalizerTrainConfig

OPSET = 17


def localizer_from_checkpoint(path: Path) -> tuple[Localizer, LocalizerTrainConfig]:
    state = load_checkpoint(path)
    config = LocalizerTrainConfig.model_validate(state["config"])
    model = Localizer(width_mult=config.width_mult)
    model.load_state_dict(state["model"])
    return model.eval(), config


def export_localizer(model: Localizer, input_size: int, path: Path, metadata: dict[str, str]) -> Path:
    """ONNX graph: `images` N x 3 x S x S RGB 0..1 -> `gun_probability` N, `box` N x 4 normalised xyxy."""
    path.parent.mkdir(parents=True, exist_ok=True)
    example = torch.rand(1, 3, input_size, input_size)
    torch.onnx.export(
        model.eval(),
        (example,),
        str(path),
        input_names=["images"],
        output_names=["gun_probability", "box"],
        dynamic_axes={"images": {0: "batch"}, "gun_probability": {0: "batch"}, "box": {0: "batch"}},
        opset_version=OPSET,
        dynamo=False,
    )
    write_metadata(path, {"gunwatch.kind": "localizer", "gunwatch.input_size": str(input_size), **metadata})
    return path


def export_yolox(model: nn.Module, input_size: int, path: Path, class_names: tuple[str, ...],
                 metadata: dict[str, str] | None = None) -> Path:
    """ONNX graph: `images` N x 3 x H x W BGR 0..255 -> `output` N x points x (5 + classes), like the COCO export.

    Batch, height and width are free axes (the head is convolutional, the grid decode is done outside the
    graph), so one file runs batched tiles and other input sizes; `gunwatch.input_size` is the default side.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    example = torch.rand(1, 3, input_size, input_size) * 255
    torch.onnx.export(
        model.eval(),
        (example,),
        str(path),
        input_names=["images"],
        output_names=["output"],
        dynamic_axes={"images": {0: "batch", 2: "height", 3: "width"}, "output": {0: "batch", 1: "points"}},
        opset_version=OPSET,
        dynamo=False,
    )
    write_metadata(path, {
        "gunwatch.kind": "yolox", "gunwatch.input_size": str(input_size), "gunwatch.classes": ",".join(class_names),
        "gunwatch.channel_order": "bgr", **(metadata or {}),
    })
    return path


def write_metadata(path: Path, metadata: dict[str, str]) -> None:
    """Set (or replace) metadata_props entries of an ONNX file in place."""
    model = onnx.load(str(path))
    kept = {p.key: p.value for p in model.metadata_props if p.key not in metadata}
    del model.metadata_props[:]
    for key, value in {**kept, **metadata}.items():
        entry = model.metadata_props.add()
        entry.key, entry.value = key, value
    onnx.save(model, str(path))
