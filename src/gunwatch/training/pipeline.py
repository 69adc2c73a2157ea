"""`gunwatch train`: train, export the best checkpoint to ONNX, choose the threshold on val."""

from __future__ import annotations

import importlib
from pathlib import Path

from gunwatch.training.config import DetectorTrainConfig, LineageConfig, LocalizerTrainConfig, load_train_config
from gunwatch.training.export import export_localizer, export_yolox, localizer_from_checkpoint, write_metadata
from gunwatch.training.verifier_config import VerifierTrainConfig


def train_from_config(config_path: Path, resume: bool, overrides: dict[str, object]) -> Path:
    config = load_train_config(config_path, overrides)
    if isinstance(config, VerifierTrainConfig):
        return train_export_and_calibrate_verifier(config, resume)
    if isinstance(config, DetectorTrainConfig):
        onnx_path = train_and_export_detector(config, resume)
    elif not isinstance(config, LocalizerTrainConfig):
        onnx_path = train_and_export_lineage(config, resume)
    else:
        onnx_path = train_and_export_localizer(config, resume)
    # Imported late: the runtime side (ONNX Runtime + metrics) chooses the threshold on the exported file.
    from gunwatch.evaluation.calibrate import calibrate_threshold

    threshold = calibrate_threshold(onnx_path, config.data, config.split, "val", config.max_val_image_fpr,
                                    getattr(config, "calibration_images", None))
    # repr keeps every digit: a threshold rounded down would flag the gun-free image it was chosen to pass.
    write_metadata(onnx_path, {"gunwatch.threshold": repr(float(threshold))})
    return onnx_path


def train_export_and_calibrate_verifier(config: VerifierTrainConfig, resume: bool) -> Path:
    """The verifier's threshold is the combined score's: measured with its detector, through the runtime."""
    from gunwatch.evaluation.calibrate import calibrate_threshold
    from gunwatch.training.verifier_train import train_and_export_verifier

    onnx_path = train_and_export_verifier(config, resume)
    threshold = calibrate_threshold(config.detector, config.data, config.split, "val", config.max_val_image_fpr,
                                    verifier=onnx_path)
    write_metadata(onnx_path, {"gunwatch.threshold": repr(float(threshold))})
    return onnx_path


def train_and_export_localizer(config: LocalizerTrainConfig, resume: bool) -> Path:
    from gunwatch.training.localizer_train import train_localizer

    best = train_localizer(config, resume=resume)
    model, _ = localizer_from_checkpoint(best)
    return export_localizer(model, config.input_size, config.out / "model.onnx", {"gunwatch.classes": "handgun"})


def train_and_export_detector(config: DetectorTrainConfig, resume: bool) -> Path:
    from gunwatch.training.detector_data import DETECTOR_CLASSES
    from gunwatch.training.detector_train import detector_from_checkpoint, train_detector

    best = train_detector(config, resume=resume)
    model, _ = detector_from_checkpoint(best)
    return export_yolox(model, config.input_size, config.out / "model.onnx", DETECTOR_CLASSES,
                        {"gunwatch.backbone": config.backbone})


def train_and_export_lineage(config: LineageConfig, resume: bool) -> Path:
    """One of the course's detectors (issue 15): its own sub-package trains and exports it."""
    from gunwatch.training.lineage import TRAINERS

    return importlib.import_module(TRAINERS[config.model]).train_and_export(config, resume)
