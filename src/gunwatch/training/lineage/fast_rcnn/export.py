"""Fast R-CNN to ONNX: inputs `image` (1 x 3 x H x W, free H and W) and `rois` (R x 4, input pixels).

torchvision's `roi_pool` exports as ONNX `MaxRoiPool` and `roi_align` as `RoiAlign` (opset 16+ for
`aligned=True`); ONNX Runtime runs both and matches PyTorch (tests/training/lineage/test_fast_rcnn_export.py).
"""

from __future__ import annotations

from pathlib import Path

import torch

from gunwatch import GUN_LABEL
from gunwatch.models.lineage.fast_rcnn import BOX_STDS, FastRcnn
from gunwatch.training.checkpoints import load_checkpoint
from gunwatch.training.export import write_metadata
from gunwatch.training.lineage.fast_rcnn.config import FastRcnnTrainConfig

OPSET = 17


def build_network(config: FastRcnnTrainConfig) -> FastRcnn:
    return FastRcnn(num_classes=1, roi_op=config.roi_op, pool_size=config.pool_size, fc_dim=config.fc_dim,
                    dropout=config.dropout, width_mult=config.width_mult)


def fast_rcnn_from_checkpoint(path: Path) -> tuple[FastRcnn, FastRcnnTrainConfig]:
    state = load_checkpoint(path)
    config = FastRcnnTrainConfig.model_validate(state["config"])
    model = build_network(config)
    model.load_state_dict(state["model"])
    return model.eval(), config


def export_fast_rcnn(model: FastRcnn, config: FastRcnnTrainConfig, path: Path) -> Path:
    """ONNX graph `image`, `rois` -> `probabilities` R x 2 (background, handgun), `deltas` R x 4."""
    path.parent.mkdir(parents=True, exist_ok=True)
    height, width = config.min_side, config.max_side
    image = torch.rand(1, 3, height, width)
    rois = torch.tensor([[0.0, 0.0, width / 2, height / 2], [width / 4, height / 4, width - 1, height - 1]])
    torch.onnx.export(
        model.eval(),
        (image, rois),
        str(path),
        input_names=["image", "rois"],
        output_names=["probabilities", "deltas"],
        dynamic_axes={"image": {2: "height", 3: "width"}, "rois": {0: "rois"}, "probabilities": {0: "rois"},
                      "deltas": {0: "rois"}},
        opset_version=OPSET,
        dynamo=False,
    )
    write_metadata(path, {
        "gunwatch.kind": "fast-rcnn", "gunwatch.classes": GUN_LABEL, "gunwatch.input_size": str(config.max_side),
        "gunwatch.min_side": str(config.min_side), "gunwatch.max_side": str(config.max_side),
        "gunwatch.roi_op": config.roi_op, "gunwatch.box_stds": ",".join(map(str, BOX_STDS)),
        "gunwatch.nms_iou": repr(config.nms_iou), "gunwatch.max_detections": str(config.max_detections),
        "gunwatch.proposal_max_side": str(config.proposal_max_side), "gunwatch.proposal_mode": config.proposal_mode,
        "gunwatch.proposal_limit": str(config.proposal_limit),
    })
    return path
