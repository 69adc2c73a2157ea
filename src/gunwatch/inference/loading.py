"""Load any shipped or trained model file behind the Detector interface."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import onnxruntime as ort

from gunwatch.inference import onnx_localizer, onnx_yolox
from gunwatch.inference.base import Detector
from gunwatch.inference.onnx_session import ModelError, gunwatch_metadata, open_session

# Explicit registry: the `gunwatch.kind` metadata of an ONNX file names its runtime.
RUNTIMES: dict[str, Callable[[Path, ort.InferenceSession], Detector]] = {
    onnx_localizer.KIND: onnx_localizer.OnnxLocalizer,
    onnx_yolox.KIND: onnx_yolox.OnnxYolox,
}

# The model `gunwatch` uses when none is named; GUNWATCH_MODEL overrides it.
SHIPPED_MODEL = Path(__file__).resolve().parents[3] / "models" / "gunwatch-localizer.onnx"


def default_model_path() -> Path:
    return Path(os.environ.get("GUNWATCH_MODEL", SHIPPED_MODEL))


def load_detector(path: Path | str | None = None, threads: int | None = None) -> Detector:
    path = Path(path) if path is not None else default_model_path()
    session = open_session(path, threads)
    kind = gunwatch_metadata(session).get("gunwatch.kind")
    if kind not in RUNTIMES:
        raise ModelError(f"{path}: unknown model kind {kind!r} in metadata (known: {', '.join(RUNTIMES)})")
    return RUNTIMES[kind](path, session)
