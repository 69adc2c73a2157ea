"""`gunwatch train` settings of the lineage's fast-rcnn detector."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field

from gunwatch.training.lineage.base_config import LineageTrainConfig


class FastRcnnTrainConfig(LineageTrainConfig):
    """Fast R-CNN.

    The same proposals, one feature map per image, ROI pooling, a classification and box head trained end to end.
    """

    model: Literal["fast-rcnn"] = "fast-rcnn"
    out: Path = Field(Path("runs/lineage-fast-rcnn"), description="run folder: checkpoints, logs, plots, model.onnx")
