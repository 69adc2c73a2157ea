"""`gunwatch train` settings of the lineage's rcnn detector.

R-CNN (Girshick et al. 2014) on a CPU budget; what is scaled down from the paper:
- the CNN: ImageNet MobileNetV2 (not AlexNet), kept frozen (the paper fine-tunes it on warped proposals
  first; here features are ImageNet's), pooled 1280-d features (the paper: fc7 4096-d);
- the warp: `warp_size` px (the paper: 227) with its 16 px context padding scaled to the side;
- selective search: fast mode on a copy of at most `proposal_max_side` px (the paper: fast mode at full
  size, ~2000 boxes); at that side it returns ~400 boxes an image, all kept at test below `test_proposal_limit`;
- SVM training: per train image the ground truth (plus its mirror image), up to `negatives_per_image`
  proposals of IoU < 0.3 sampled at random and mined for hard negatives in `hard_negative_rounds` rounds
  (the paper mines over every proposal of every image);
- box regression: ridge on the same pooled features (the paper: pool5), proposals of IoU >= 0.6.
`epochs` and `lr` are not used: no layer is trained by gradient descent.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field

from gunwatch.training.lineage.base_config import LineageTrainConfig


class RcnnTrainConfig(LineageTrainConfig):
    """R-CNN.

    Selective search proposals, CNN features per warped proposal, a linear classifier and class-specific box regression.
    """

    model: Literal["rcnn"] = "rcnn"
    out: Path = Field(Path("runs/lineage-rcnn"), description="run folder: checkpoints, logs, plots, model.onnx")
    # proposals
    proposal_mode: Literal["fast", "quality"] = "fast"
    proposal_max_side: int = Field(224, ge=32, description="side of the copy selective search runs on")
    proposal_limit: int = Field(2000, ge=1, description="proposals kept per training image")
    test_proposal_limit: int = Field(2000, ge=1, description="proposals scored per image at run time")
    proposals_folder: Path = Field(Path("runs/lineage-proposals"), description="selective search cache")
    # warping and features
    warp_size: int = Field(112, ge=32, description="side of the square each proposal is warped to")
    context_px: float | None = Field(None, ge=0, description="context padding at the warp size "
                                     "(default: the paper's 16 px at 227, scaled)")
    batch_size: int = Field(64, ge=1, description="crops per CNN call")
    sample_train_images: int | None = Field(None, ge=1, description="a seeded sample of the train split")
    sample_val_images: int | None = Field(None, ge=1, description="a seeded sample of val for the calibration")
    # classifier
    negatives_per_image: int = Field(32, ge=1, description="IoU < negative_iou proposals sampled per image")
    negative_iou: float = Field(0.3, gt=0, le=1, description="the paper's SVM negatives: IoU below this")
    flip_positives: bool = Field(True, description="the ground truth's mirror image as a second positive")
    svm_c: list[float] = Field([0.001, 0.01, 0.1], min_length=1, description="LinearSVC C, chosen on val AP")
    hard_negative_rounds: int = Field(2, ge=0, description="rounds adding the negatives inside the margin")
    # box regression
    regression_iou: float = Field(0.6, gt=0, le=1, description="the paper's: proposals this close to a gun")
    regression_per_image: int = Field(8, ge=0, description="such proposals sampled per image")
    ridge_alphas: list[float] = Field([1.0, 10.0, 100.0, 1000.0, 10000.0], min_length=1)
    # detection
    nms_iou: float = Field(0.3, gt=0, le=1, description="the paper's NMS overlap for R-CNN")
    max_detections: int = Field(100, ge=1)
