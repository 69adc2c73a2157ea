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
