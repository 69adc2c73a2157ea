"""`gunwatch train`: train, export the best checkpoint to ONNX, choose the threshold on val."""

from __future__ import annotations

from pathlib import Path

from gunwatch.training.config import load_train_config
from gunwatch.training.export import export_localizer, localizer_from_checkpoint, write_metadata
from gunwatch.training.localizer_train import train_localizer


def train_from_config(config_path: Path, resume: bool, overrides: dict[str, object]) -> Path:
    config = load_train_config(config_path, overrides)
    best = train_localizer(config, resume=resume)
    model, _ = localizer_from_checkpoint(best)
    onnx_path = export_localizer(model, config.input_size, config.out / "model.onnx", {"gunwatch.classes": "handgun"})
    # Imported late: the runtime side (ONNX Runtime + metrics) chooses the threshold on the exported file.
    from gunwatch.evaluation.calibrate import calibrate_threshold

    threshold = calibrate_threshold(onnx_path, config.data, config.split, "val", config.max_val_image_fpr)
    # repr keeps every digit: a threshold rounded down would flag the gun-free image it was chosen to pass.
    write_metadata(onnx_path, {"gunwatch.threshold": repr(float(threshold))})
    return onnx_path
