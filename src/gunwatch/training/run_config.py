"""What every training run's config has, whatever it trains."""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, PositiveFloat, field_validator


class TrainRunConfig(BaseModel):
    """What every training run has: its data, split and seed, and how its threshold is chosen."""

    model_config = ConfigDict(extra="forbid")

    data: Path = Field(description="data set root (any supported layout)")
    split: Path = Field(description="split file written by `gunwatch data split`")
    seed: int = 0
    # Operating threshold chosen on the validation split
    max_val_image_fpr: float = Field(0.01, ge=0, le=1)
    threads: int | None = Field(None, ge=1, description="torch CPU threads (default: all cores)")


class ExtraTrainData(BaseModel):
    """Another data set whose `train` split joins the training images (e.g. frames from camera views)."""

    model_config = ConfigDict(extra="forbid")

    data: Path = Field(description="data set root (any supported layout)")
    split: Path = Field(description="its split file; only the `train` split is used")
    repeats: int = Field(1, ge=1, le=20, description="times each of its images is drawn per epoch (a small set)")


class PoseBalanceConfig(BaseModel):
    """Guns not seen side on (aimed at the camera, upright, foreshortened), drawn more often (pose_balance.py)."""

    pose_repeats: int = Field(1, ge=1, le=20, description="times an image holding a gun not in profile is drawn "
                                                         "per epoch (a verifier: its gun crops)")
    profile_aspect: tuple[PositiveFloat, PositiveFloat] = Field(
        (1.15, 2.0), description="box width / height of a gun in profile; a gun outside [low, high) is not"
    )

    @field_validator("profile_aspect")
    @classmethod
    def _a_range_of_aspects(cls, value: tuple[float, float]) -> tuple[float, float]:
        if not value[0] < value[1]:
            raise ValueError(f"{list(value)}: need low < high (box width / height of a gun in profile)")
        return value
