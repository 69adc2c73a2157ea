"""`gunwatch train` settings of the lineage's rcnn detector."""

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
