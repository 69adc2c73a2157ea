"""`gunwatch train` settings of the lineage's fast-rcnn detector."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, model_validator

from gunwatch.training.lineage.base_config import LineageTrainConfig


class FastRcnnTrainConfig(LineageTrainConfig):
    """Fast R-CNN.

    The same proposals, one feature map per image, ROI pooling, a classification and box head trained end to end.
    """

    model: Literal["fast-rcnn"] = "fast-rcnn"
    out: Path = Field(Path("runs/lineage-fast-rcnn"), description="run folder: checkpoints, logs, plots, model.onnx")

    # Input: the paper scales the shorter side to 600 (longest at most 1000); the CPU budget scales it smaller.
    min_side: int = Field(384, ge=32, le=1333, description="shorter image side in the network's input pixels")
    max_side: int = Field(416, ge=32, le=1333, description="cap on the longer side (wins over min_side)")
    hflip: float = Field(0.5, ge=0, le=1, description="probability of a mirrored training image")

    # Network
    roi_op: Literal["pool", "align"] = Field("pool", description="RoI max pooling (the paper) or RoI align")
    pool_size: int = Field(7, ge=1, le=14, description="RoI grid side (the paper: 7)")
    fc_dim: int = Field(1024, ge=16, description="width of the two fully connected layers (VGG16: 4096)")
    dropout: float = Field(0.5, ge=0, lt=1, description="after each fully connected layer (VGG16's)")
    width_mult: float = Field(1.0, gt=0, le=1.0)
    freeze_blocks: int = Field(
        4, ge=0, le=14, description="first backbone blocks kept frozen (the paper froze VGG16's conv1-2; CPU speed)"
    )

    # Mini-batches (the paper: 2 images x 64 RoIs, 25 % foreground at IoU >= 0.5, background IoU in [0.1, 0.5))
    images_per_batch: int = Field(2, ge=1)
    rois_per_image: int = Field(64, ge=1)
    fg_fraction: float = Field(0.25, gt=0, le=1)
    fg_iou: float = Field(0.5, gt=0, le=1)
    bg_iou_low: float = Field(0.1, ge=0, lt=1, description="background RoIs have IoU in [bg_iou_low, fg_iou)")
    box_weight: float = Field(1.0, ge=0, description="lambda: the smooth L1 term's weight")

    # Optimisation (the paper: SGD, momentum 0.9, lr 0.001, weight decay 0.0005)
    optimizer: Literal["sgd", "adam"] = "sgd"
    momentum: float = Field(0.9, ge=0, lt=1)
    weight_decay: float = Field(5e-4, ge=0)

    # Selective search: the same settings (and so the same cache file) as R-CNN's by default
    proposal_max_side: int = Field(320, ge=32, description="side selective search sees")
    proposal_mode: Literal["fast", "quality"] = "fast"
    proposal_limit: int = Field(2000, ge=1, description="proposals per image (the paper: ~2k)")
    proposal_folder: Path = Field(Path("runs/lineage-proposals"), description="selective search cache folder")

    # Detection at test time (the paper: NMS at IoU 0.3 per class)
    nms_iou: float = Field(0.3, gt=0, le=1)
    max_detections: int = Field(100, ge=1, description="per image, after NMS")

    @model_validator(mode="after")
    def _sides(self) -> FastRcnnTrainConfig:
        if self.max_side < self.min_side:
            raise ValueError(f"max_side {self.max_side} is smaller than min_side {self.min_side}")
        return self
