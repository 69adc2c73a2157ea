"""Load any shipped or trained model file behind the Detector interface."""

from __future__ import annotations

import importlib
import logging
import os
from collections.abc import Callable
from pathlib import Path

import numpy as np
import onnxruntime as ort

from gunwatch.checksums import sha256_of
from gunwatch.inference import onnx_localizer, onnx_yolox
from gunwatch.inference.base import Detector
from gunwatch.inference.flip import FlippedDetector
from gunwatch.inference.input_shape import whole_image_side
from gunwatch.inference.onnx_session import (
    PRECISION_KEY,
    SOURCE_SHA_KEY,
    ModelError,
    gunwatch_metadata,
    open_session,
)
from gunwatch.inference.person_crops import SecondLookParams
from gunwatch.inference.second_look import SecondLookDetector, first_pass_scale
from gunwatch.inference.tiling import TiledDetector, TileMode
from gunwatch.inference.verifier import OnnxGunVerifier, VerifiedDetector

log = logging.getLogger(__name__)

# Explicit registry: the `gunwatch.kind` metadata of an ONNX file names its runtime.
RUNTIMES: dict[str, Callable[[Path, ort.InferenceSession], Detector]] = {
    onnx_localizer.KIND: onnx_localizer.OnnxLocalizer,
    onnx_yolox.KIND: onnx_yolox.OnnxYolox,
}
# The course's lineage (issue 15), imported when such a model is loaded: some need the `lineage` extra
# (OpenCV contrib's selective search). kind -> "module:class", constructed as RUNTIMES' are.
LINEAGE_RUNTIMES: dict[str, str] = {
    "sliding-window": "gunwatch.inference.lineage.sliding_window:OnnxSlidingWindow",
    "rcnn": "gunwatch.inference.lineage.rcnn:OnnxRcnn",
    "fast-rcnn": "gunwatch.inference.lineage.fast_rcnn:OnnxFastRcnn",
    "faster-rcnn": "gunwatch.inference.lineage.faster_rcnn:OnnxFasterRcnn",
}

# The models shipped in the repository; the detector is the default, GUNWATCH_MODEL overrides it.
MODELS_DIR = Path(__file__).resolve().parents[3] / "models"
SHIPPED_DETECTOR = MODELS_DIR / "gunwatch-nano.onnx"
SHIPPED_LOCALIZER = MODELS_DIR / "gunwatch-localizer.onnx"
SHIPPED_VERIFIER = MODELS_DIR / "gunwatch-verifier.onnx"
# Its INT8 copy (`make quantize-verifier`), what "auto" runs while it was made from the shipped verifier as it is now.
SHIPPED_VERIFIER_INT8 = MODELS_DIR / "gunwatch-verifier-int8.onnx"
SHIPPED_MODEL = SHIPPED_DETECTOR
VerifierChoice = Path | str | None  # a file, "auto" or "none"


def resolve_verifier(choice: VerifierChoice, model: Path | str | None) -> Path | None:
    """The verifier file a detector runs with: a named file; for "auto" the shipped verifier when it was
    calibrated with this very detector file (another detector has no verifier of its own), as its INT8 copy
    when there is one made from it (README, "INT8"); None for "none"."""
    if choice is None or str(choice) == "none":
        return None
    if str(choice) != "auto":
        return Path(choice)
    model_path = Path(model) if model is not None else default_model_path()
    if not SHIPPED_VERIFIER.is_file() or not model_path.is_file():
        return None
    if OnnxGunVerifier.load(SHIPPED_VERIFIER, threads=1).detector_sha256 != sha256_of(model_path):
        return None
    return SHIPPED_VERIFIER_INT8 if int8_copy_of(SHIPPED_VERIFIER_INT8, SHIPPED_VERIFIER) else SHIPPED_VERIFIER


def int8_copy_of(copy: Path, source: Path) -> bool:
    """Whether `copy` is an INT8 file quantised from `source` as it is now (a stale copy, made before the
    source was retrained, is not)."""
    if not copy.is_file():
        return False
    metadata = gunwatch_metadata(open_session(copy, 1))
    return metadata.get(PRECISION_KEY) == "int8" and metadata.get(SOURCE_SHA_KEY) == sha256_of(source)


def runtime_of(kind: str) -> Callable[[Path, ort.InferenceSession], Detector]:
    if kind in RUNTIMES:
        return RUNTIMES[kind]
    module, name = LINEAGE_RUNTIMES[kind].split(":")
    return getattr(importlib.import_module(module), name)


def default_model_path() -> Path:
    return Path(os.environ.get("GUNWATCH_MODEL", SHIPPED_MODEL))


def load_detector(
    path: Path | str | None = None, threads: int | None = None, input_size: int | None = None,
    tiles: TileMode = "off", spinning: bool = True, second_look: bool | SecondLookParams = False, flip: bool = False,
    verifier: VerifierChoice = None, max_input: int | None = None,
) -> Detector:
    """The model behind the Detector interface; `input_size` runs a YOLOX export at another square side,
    `max_input` gives a YOLOX export frame-shaped input up to that side (see `gunwatch.inference.input_shape`;
    other kinds and fixed-size graphs keep their own input),
    `flip` runs every image (tile, crop) mirrored too (see `gunwatch.inference.flip`), `tiles` wraps it for
    large frames (see `gunwatch.inference.tiling`), `second_look` looks again at each person (see
    `gunwatch.inference.second_look`), `verifier` has a gun verifier judge every gun candidate of every
    image, tile and crop (see `gunwatch.inference.verifier`), `spinning=False` for a process whose cores are
    shared with other work (see `onnx_session.session_options`)."""
    path = Path(path) if path is not None else default_model_path()
    verifier_path = resolve_verifier(verifier, path)
    session = open_session(path, threads, spinning)
    kind = gunwatch_metadata(session).get("gunwatch.kind")
    if kind not in RUNTIMES and kind not in LINEAGE_RUNTIMES:
        known = ", ".join([*RUNTIMES, *LINEAGE_RUNTIMES])
        raise ModelError(f"{path}: unknown model kind {kind!r} in metadata (known: {known})")
    if max_input is not None and not (kind == onnx_yolox.KIND and onnx_yolox.takes_any_size(session)):
        # The default (`detector.max_input_size`) must not stop a model that can only run at its own size.
        log.info("%s: runs every image at its own input size (frame-shaped input needs a YOLOX export with free "
                 "height and width)", path)
        max_input = None
    if kind == onnx_yolox.KIND and (input_size is not None or max_input is not None):
        size = {} if input_size is None else {"gunwatch.input_size": str(input_size)}
        detector = onnx_yolox.OnnxYolox(path, session, size, max_input_side=max_input)
    elif input_size is None and max_input is None:
        detector = runtime_of(kind)(path, session)
    else:
        raise ModelError(f"{path}: a {kind} model runs only at its own input size")
    if flip:
        detector = FlippedDetector(detector)
    if verifier_path is not None:
        detector = VerifiedDetector(detector, OnnxGunVerifier.load(verifier_path, threads, spinning))
    size = detector.input_size  # (height, width) for YOLOX, one int for the localizer
    side = max(size) if isinstance(size, tuple) else size
    first_pass = detector if tiles == "off" else TiledDetector(detector, side, tiles)
    if second_look is False:
        return first_pass
    params = second_look if isinstance(second_look, SecondLookParams) else None
    def seen_scale(image: np.ndarray) -> float:  # the whole image is the first pass's analysis image
        height, width = image.shape[:2]
        return first_pass_scale(width, (width, height), side, tiles, whole_image_side(detector, width, height, side))

    return SecondLookDetector(first_pass, detector, side, params, seen_scale=seen_scale)
