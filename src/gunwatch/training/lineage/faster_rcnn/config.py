"""`gunwatch train` settings of the lineage's faster-rcnn detector."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, model_validator

from gunwatch.training.lineage.base_config import LineageTrainConfig


class FasterRcnnTrainConfig(LineageTrainConfig):
    """Faster R-CNN.

    A region proposal network with anchors and the detection head, four losses, trained end to end.
    torchvision's `FasterRCNN` on the stride-16 ImageNet MobileNetV2 (see models/lineage/faster_rcnn.py).
    """

    model: Literal["faster-rcnn"] = "faster-rcnn"
    out: Path = Field(Path("runs/lineage-faster-rcnn"), description="run folder: checkpoints, logs, plots, model.onnx")

    # Input: torchvision's resize (short side to min_size unless the long side passes max_size)
    min_size: int = Field(416, ge=32, le=1333, description="torchvision's min_size; 416 = max_size: longest side 416")
    max_size: int = Field(416, ge=32, le=1333, description="torchvision's max_size: the longest input side")
    width_mult: float = Field(1.0, gt=0, le=1.0, description="MobileNetV2 width (ImageNet weights exist for 1.0)")
    freeze_blocks: int = Field(4, ge=0, le=14, description="first backbone blocks kept frozen (speed on CPU)")

    # Anchors, sized from the training gun boxes at the training input scale
    anchor_sizes: int = Field(5, ge=1, le=9, description="anchor sizes: quantiles of sqrt(w h) of the gun boxes")
    anchor_ratios: int = Field(3, ge=1, le=5, description="anchor aspect ratios: quantiles of h / w")

    # Region proposal network and head (torchvision's defaults cut for the CPU)
    rpn_pre_nms_top_n_train: int = Field(1000, ge=1)
    rpn_post_nms_top_n_train: int = Field(500, ge=1)
    rpn_pre_nms_top_n_test: int = Field(600, ge=1)
    rpn_post_nms_top_n_test: int = Field(300, ge=1, description="proposals per image at test time")
    representation_size: int = Field(512, ge=16, description="width of the head's two fully connected layers")
    box_batch_size_per_image: int = Field(128, ge=1, description="proposals sampled per image for the head")
    box_score_thresh: float = Field(0.001, ge=0, lt=1, description="low: evaluation sees the whole PR curve")
    box_detections_per_img: int = Field(100, ge=1)

    # Optimisation: SGD with momentum (torchvision's reference recipe), linear warm-up, then cosine decay
    batch_size: int = Field(4, ge=1)
    lr: float = Field(0.01, gt=0)
    momentum: float = Field(0.9, ge=0, lt=1)
    weight_decay: float = Field(1e-4, ge=0)
    warmup_steps: int = Field(100, ge=0, description="linear warm-up steps (capped at half the run)")
    epochs: int = Field(4, ge=1)

    # Augmentation
    hflip: float = Field(0.5, ge=0, le=1)
    color: float = Field(0.2, ge=0, le=1, description="max relative brightness / contrast / saturation jitter")

    @model_validator(mode="after")
    def _sizes_in_order(self) -> FasterRcnnTrainConfig:
        if self.min_size > self.max_size:
            raise ValueError(f"min_size {self.min_size} is larger than max_size {self.max_size}")
        if self.rpn_pre_nms_top_n_test < self.rpn_post_nms_top_n_test:
            raise ValueError("rpn_pre_nms_top_n_test is smaller than rpn_post_nms_top_n_test")
        return self
