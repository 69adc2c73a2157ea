"""Static INT8 quantisation of a YOLOX export with ONNX Runtime: QDQ, per-channel S8 weights, U8 activations.

Activation ranges are calibrated on real images fed through the runtime's own preprocessing
(`OnnxYolox.input_batch`: letterbox with 114, the model's channel order), so the INT8 model is calibrated
on exactly the pixels it will see. U8 activations with S8 weights are the combination x86 VNNI multiplies
natively; S8 activations run through a slower path there (measured about 3x slower on this project's CPU).
The file keeps every `gunwatch.*` entry of its source, so it loads and runs like it (free batch, height and
width axes included), and records what it was made from. The one exception is the live alarm threshold:
it was measured on clips for the FP32 model's scores, so the INT8 copy falls back to its own threshold
until `gunwatch bench alarms` measures one for it.
"""

from __future__ import annotations

import contextlib
import sys
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import onnx
from onnxruntime.quantization import CalibrationDataReader, CalibrationMethod, QuantFormat, QuantType, quantize_static
from onnxruntime.quantization.shape_inference import quant_pre_process

from gunwatch.checksums import sha256_of
from gunwatch.data.images import load_rgb
from gunwatch.inference.alarm_threshold import ALARM_THRESHOLD_KEY
from gunwatch.inference.loading import SHIPPED_DETECTOR, load_detector
from gunwatch.inference.onnx_session import ModelError, gunwatch_metadata
from gunwatch.inference.onnx_yolox import OnnxYolox

METHODS: dict[str, CalibrationMethod] = {
    "minmax": CalibrationMethod.MinMax,
    "percentile": CalibrationMethod.Percentile,  # at PERCENTILE, 2048 bins
    "entropy": CalibrationMethod.Entropy,  # ORT's default: KL divergence over 128 bins
}
# Clipping the rare large activations buys resolution for the many small ones. gunwatch-nano's val mAP@0.5
# against the percentile (64 calibration images; FP32: 0.830): 99.999 (ORT's default) 0.726, 99.99 0.751,
# 99.9 0.762, 99.5 0.745, 99 0.687.
PERCENTILE = 99.9
ACTIVATIONS: dict[str, QuantType] = {"u8": QuantType.QUInt8, "s8": QuantType.QInt8}
# Where `make quantize` writes the shipped detector's INT8 copy.
INT8_DETECTOR = SHIPPED_DETECTOR.with_name(f"{SHIPPED_DETECTOR.stem}-int8.onnx")
PRECISION_KEY = "gunwatch.precision"
SOURCE_KEY = "gunwatch.source_model"  # the FP32 file's name, looked up beside the INT8 file
SOURCE_SHA_KEY = "gunwatch.source_sha256"
RECIPE_KEY = "gunwatch.quantization"
# Images per calibration pass: every intermediate tensor of a 416 px image is held until the pass ends
# (about 100 MB an image), so the histogram methods would otherwise need gigabytes for a few hundred images.
MAX_IMAGES_PER_PASS = 8


class CalibrationImages(CalibrationDataReader):
    """Feeds image files one at a time as the model's input; `set_range` lets ORT calibrate in passes."""

    def __init__(self, detector: OnnxYolox, images: Sequence[Path], on_image: Callable[[], None] = lambda: None):
        self.detector = detector
        self.images = list(images)
        self.on_image = on_image
        self.set_range(0, len(self.images))

    def get_next(self) -> dict[str, np.ndarray] | None:
        if self.position >= self.end:
            return None
        batch, _ = self.detector.input_batch([load_rgb(self.images[self.position])])
        self.position += 1
        self.on_image()
        return {self.detector.input_name: batch}

    def __len__(self) -> int:
        return len(self.images)

    def set_range(self, start_index: int, end_index: int) -> None:
        self.position, self.end = start_index, min(end_index, len(self.images))


def quantize_yolox(
    source: Path, images: Sequence[Path], out: Path, method: str = "minmax", activations: str = "u8",
    on_image: Callable[[], None] = lambda: None, recipe_note: str = "",
) -> Path:
    """Write `out`: `source` (a YOLOX export) quantised to INT8, calibrated on `images` with `method`.

    `on_image` is called once per calibration image (a progress bar); `recipe_note` is appended to the
    recipe recorded in the metadata (e.g. which images were used).
    """
    if method not in METHODS:
        raise ValueError(f"calibration method must be one of {', '.join(METHODS)}, not {method!r}")
    if activations not in ACTIVATIONS:
        raise ValueError(f"activations must be one of {', '.join(ACTIVATIONS)}, not {activations!r}")
    if not images:
        raise ValueError("no calibration images")
    detector = load_detector(source, threads=1)
    if not isinstance(detector, OnnxYolox):
        raise ModelError(f"{source}: only YOLOX exports are quantised")
    if gunwatch_metadata(detector.session).get(PRECISION_KEY, "fp32") != "fp32":
        raise ModelError(f"{source}: already quantised")
    reader = CalibrationImages(detector, images, on_image)
    with tempfile.TemporaryDirectory(prefix="gunwatch-quantize-") as temp:
        prepared, quantized = Path(temp) / "prepared.onnx", Path(temp) / "int8.onnx"
        # ORT's symbolic shape inference cannot follow the free height and width through the Focus slices
        # and the upsampling; ONNX shape inference and ORT's basic graph optimisations (constant folding)
        # still run, which is what the quantiser needs.
        quant_pre_process(str(source), str(prepared), skip_symbolic_shape=True)
        # ORT prints its calibration progress on stdout; stdout belongs to --json.
        with contextlib.redirect_stdout(sys.stderr):
            quantize_static(
                str(prepared), str(quantized), reader, quant_format=QuantFormat.QDQ, per_channel=True,
                activation_type=ACTIVATIONS[activations], weight_type=QuantType.QInt8,
                calibrate_method=METHODS[method],
                extra_options={"CalibStridedMinMax": images_per_pass(len(reader)), "CalibPercentile": PERCENTILE},
            )
        model = onnx.load(str(quantized))
    recipe = (f"static QDQ, per-channel s8 weights, {activations} activations, "
              f"{method} calibration on {len(images)} images")
    kept = {key: value for key, value in source_metadata(source).items() if key != ALARM_THRESHOLD_KEY}
    # The quantiser copies the source's metadata too: start its gunwatch.* entries afresh.
    ort_entries = {p.key: p.value for p in model.metadata_props if not p.key.startswith("gunwatch.")}
    del model.metadata_props[:]
    set_metadata(model, {
        **ort_entries, **kept, PRECISION_KEY: "int8", SOURCE_KEY: source.name, SOURCE_SHA_KEY: sha256_of(source),
        RECIPE_KEY: recipe + (f" ({recipe_note})" if recipe_note else ""),
    })
    out.parent.mkdir(parents=True, exist_ok=True)
    onnx.save(model, str(out))
    return out


def images_per_pass(count: int) -> int:
    """The largest pass size up to MAX_IMAGES_PER_PASS that divides `count` (ORT needs equal passes)."""
    return max(size for size in range(1, MAX_IMAGES_PER_PASS + 1) if count % size == 0)


def source_metadata(path: Path) -> dict[str, str]:
    """Every `gunwatch.*` entry of a model file."""
    return {p.key: p.value for p in onnx.load(str(path), load_external_data=False).metadata_props
            if p.key.startswith("gunwatch.")}


def set_metadata(model: onnx.ModelProto, entries: dict[str, str]) -> None:
    """Set (or replace) metadata entries of a model in memory."""
    kept = {p.key: p.value for p in model.metadata_props if p.key not in entries}
    del model.metadata_props[:]
    for key, value in {**kept, **entries}.items():
        entry = model.metadata_props.add()
        entry.key, entry.value = key, value


def update_metadata(path: Path, entries: dict[str, str]) -> None:
    model = onnx.load(str(path))
    set_metadata(model, entries)
    onnx.save(model, str(path))


def quantized_from(path: Path) -> Path | None:
    """The FP32 file an INT8 file was made from, when it lies beside it unchanged; None otherwise
    (an FP32 file, or a source since retrained: then the INT8 file is stale, see `make quantize`)."""
    metadata = source_metadata(path)
    if metadata.get(PRECISION_KEY) != "int8" or not metadata.get(SOURCE_KEY):
        return None
    source = path.parent / metadata[SOURCE_KEY]
    if not source.is_file() or sha256_of(source) != metadata.get(SOURCE_SHA_KEY):
        return None
    return source
