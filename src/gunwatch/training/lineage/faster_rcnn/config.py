"""`gunwatch train` settings of the lineage's faster-rcnn detector."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field

from gunwatch.training.lineage.base_config import LineageTrainConfig


class FasterRcnnTrainConfig(LineageTrainConfig):
    """Faster R-CNN.

    A region proposal network with anchors and the detection head, four losses, trained end to end.
    """

    model: Literal["faster-rcnn"] = "faster-rcnn"
    out: Path = Field(Path("runs/lineage-faster-rcnn"), description="run folder: checkpoints, logs, plots, model.onnx")
