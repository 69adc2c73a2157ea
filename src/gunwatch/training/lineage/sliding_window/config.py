"""`gunwatch train` settings of the lineage's sliding-window detector."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field

from gunwatch.training.lineage.base_config import LineageTrainConfig


class SlidingWindowTrainConfig(LineageTrainConfig):
    """Sliding windows + NMS.

    A gun / no-gun window classifier on the localizer's backbone, run convolutionally over an image pyramid.
    """

    model: Literal["sliding-window"] = "sliding-window"
    out: Path = Field(Path("runs/lineage-sliding-window"), description="run folder: checkpoints, plots, model.onnx")

    # The window classifier (see gunwatch.models.lineage.sliding_window): its window side and stride follow
    # from these (8 blocks + a 2 x 2 dense layer: 91-px windows, 16 px apart).
    width_mult: float = Field(1.0, gt=0, le=1.0, description="MobileNetV2 width (ImageNet weights exist for 1.0)")
    trunk_blocks: int = Field(8, ge=2, le=12, description="MobileNetV2 blocks, run without zero padding")
    head_kernel: int = Field(2, ge=1, le=5, description="first dense layer's span, in feature cells")
    hidden: int = Field(256, ge=8, description="width of the dense layers (1 x 1 convolutions)")
    dropout: float = Field(0.2, ge=0, lt=1)
    freeze_blocks: int = Field(4, ge=0, description="first trunk blocks kept frozen (speed on CPU)")

    # The image pyramid: windows cover squares from `min_gun_px` to the largest training image side.
    min_gun_px: float = Field(32.0, gt=0, description="smallest gun side (longer side, px) the pyramid reaches")
    pyramid_step: float = Field(2**0.5, gt=1, description="ratio of consecutive scales")

    # Training windows, drawn afresh from every training image each epoch. A positive window's square has
    # IoU >= positive_iou with a gun's square (side = the gun's longer side), a negative's < negative_iou
    # with every gun's; the ones between are not used.
    positives_per_gun: int = Field(3, ge=1)
    negatives_per_gun_image: int = Field(3, ge=0, description="anywhere, any scale, away from the guns")
    negatives_per_gunfree_image: int = Field(6, ge=0, description="knives, CCTV frames: every window is a negative")
    near_negatives_per_gun: int = Field(1, ge=0, description="negatives of about the gun's scale, beside it")
    positive_iou: float = Field(0.5, gt=0, le=1)
    negative_iou: float = Field(0.3, ge=0, le=1)
    jitter: float = Field(0.2, ge=0, le=0.5, description="positive windows: centre shift and log-scale jitter")

    # Hard-negative mining after each epoch from `mining_from_epoch` on: the classifier runs over the pyramid
    # of `mining_images` random training images; their top gun-free windows join the negatives for good.
    mining_from_epoch: int | None = Field(2, ge=1, description="null: no mining")
    mining_images: int = Field(200, ge=1)
    hard_negatives_per_image: int = Field(3, ge=1)
    mining_min_score: float = Field(0.3, ge=0, le=1, description="only windows the classifier gets wrong enough")
    mined_per_image_cap: int = Field(6, ge=1, description="mined windows kept per image (the newest)")

    # The best epoch is the one whose detector (pyramid + NMS through ONNX Runtime) has the highest mAP@0.5
    # on a fixed sample of val images: the val windows' loss is measured on random windows, which mined hard
    # negatives make a poor guide (it rose while detection improved).
    selection_images: int = Field(150, ge=1, description="val images whose detection mAP@0.5 picks the epoch")

    # Optimisation: BCE on every window + box_weight x smooth L1 on the positives' box deltas
    batch_size: int = Field(64, ge=1)
    box_weight: float = Field(2.0, ge=0)

    # Augmentation
    hflip: float = Field(0.5, ge=0, le=1)
    grayscale: float = Field(0.2, ge=0, le=1)
    brightness_contrast: float = Field(0.25, ge=0, le=1)

    # Inference settings written into the ONNX metadata
    nms_iou: float = Field(0.4, gt=0, le=1)
    pre_nms_top_k: int = Field(1000, ge=1, description="best windows per image that go through NMS")
    max_detections: int = Field(100, ge=1)
