"""Static INT8 quantisation with ONNX Runtime (QDQ, per-channel S8 weights, U8 activations) of a YOLOX export
and of a gun verifier.

Activation ranges are calibrated on real images fed through the runtime's own preprocessing
(`OnnxYolox.input_batch`: letterbox with 114, the model's channel order), so the INT8 model is calibrated
on exactly the pixels it will see; a verifier's, on the context crops the live pipeline cuts for it. U8
activations with S8 weights are the combination x86 VNNI multiplies natively; S8 activations run through a
slower path there (measured about 3x slower on this project's CPU).
A ReLU detector's Conv-ReLU-Conv pairs are equalised first (`inference.equalize`: the same function, with the
channels' activation ranges evened out against the weights), which a SiLU network has none of.
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
from gunwatch.inference.equalize import equalize
from gunwatch.inference.loading import SHIPPED_DETECTOR, SHIPPED_VERIFIER_INT8, load_detector
from gunwatch.inference.onnx_session import (
    PRECISION_KEY,
    RECIPE_KEY,
    SOURCE_KEY,
    SOURCE_SHA_KEY,
    ModelError,
    gunwatch_metadata,
)
from gunwatch.inference.onnx_yolox import OnnxYolox
from gunwatch.inference.verifier import OnnxGunVerifier

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
# Where `make quantize` writes the shipped detector's INT8 copy, and the shipped verifier's.
INT8_DETECTOR = SHIPPED_DETECTOR.with_name(f"{SHIPPED_DETECTOR.stem}-int8.onnx")
INT8_VERIFIER = SHIPPED_VERIFIER_INT8
# The verifier's activations after ReLU6 have no rare outliers to clip away: keep nearly the whole range.
VERIFIER_PERCENTILE = 99.99
# Images whose per-channel ranges set a ReLU detector's equalisation (the first of the calibration images).
EQUALIZE_IMAGES = 32
CROPS_PER_BATCH = 16
BATCHES_PER_PASS = 4  # every activation of a pass is held: all ~800 crops of 200 images at once took 19 GB
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
    on_image: Callable[[], None] = lambda: None, recipe_note: str = "", keep_float: Sequence[str] = (),
) -> Path:
    """Write `out`: `source` (a YOLOX export) quantised to INT8, calibrated on `images` with `method`.

    `on_image` is called once per calibration image (a progress bar); `recipe_note` is appended to the
    recipe recorded in the metadata (e.g. which images were used). `keep_float` names nodes of `source` left in
    float (to measure where INT8 loses: scripts/int8_float_parts.py).
    """
    graph = onnx.load(str(source))
    if unknown := sorted(set(keep_float) - {node.name for node in graph.graph.node}):
        raise ValueError(f"{source}: keep_float names no node {', '.join(unknown[:5])}")
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
    with tempfile.TemporaryDirectory(prefix="gunwatch-equalize-") as temp:
        # A ReLU network's activation ranges are equalised first (inference/equalize.py); a SiLU one has no pairs.
        equalized, pairs = equalize(graph,
                                    iter(CalibrationImages(detector, images[:EQUALIZE_IMAGES]).get_next, None))
        prepared = Path(temp) / "equalized.onnx"
        onnx.save(equalized, str(prepared))
        reader = CalibrationImages(detector, images, on_image)
        model = _quantize_static(prepared, reader, method, activations,
                                 {"CalibStridedMinMax": images_per_pass(len(reader)), "CalibPercentile": PERCENTILE},
                                 keep_float)
    recipe = (f"static QDQ, per-channel 7-bit s8 weights, {activations} activations, "
              f"{method} calibration on {len(images)} images")
    if pairs:
        recipe += f", {pairs} Conv-ReLU-Conv pairs equalised on {min(len(images), EQUALIZE_IMAGES)} of them"
    if keep_float:
        recipe += f", {len(keep_float)} nodes kept in float"
    return _save_int8(model, source, out, recipe + (f" ({recipe_note})" if recipe_note else ""))


class CalibrationCrops(CalibrationDataReader):
    """A verifier's crops (N x side x side x 3 uint8 RGB), fed as its input in equal batches: ORT's histogram
    methods stack every batch's tensors, so a short last batch would not fit (it is left out)."""

    def __init__(self, input_name: str, crops: np.ndarray, batch: int = CROPS_PER_BATCH):
        self.input_name = input_name
        self.batches = [crops[start : start + batch] for start in range(0, len(crops) - batch + 1, batch)]
        self.set_range(0, len(self.batches))

    def get_next(self) -> dict[str, np.ndarray] | None:
        if self.position >= self.end:
            return None
        batch = self.batches[self.position]
        self.position += 1
        return {self.input_name: np.ascontiguousarray(batch.transpose(0, 3, 1, 2), dtype=np.float32)}

    def __len__(self) -> int:
        return len(self.batches)

    def set_range(self, start_index: int, end_index: int) -> None:
        self.position, self.end = start_index, min(end_index, len(self.batches))


def quantize_verifier(
    source: Path, crops: np.ndarray, out: Path, method: str = "minmax", activations: str = "u8",
    recipe_note: str = "",
) -> Path:
    """Write `out`: the gun verifier `source` quantised to INT8, calibrated on `crops` (what it judges live:
    context crops around the detector's candidates). It keeps the source's pairing with its detector, its
    crop geometry and thresholds; the image threshold is for the caller to measure again."""
    if method not in METHODS:
        raise ValueError(f"calibration method must be one of {', '.join(METHODS)}, not {method!r}")
    if activations not in ACTIVATIONS:
        raise ValueError(f"activations must be one of {', '.join(ACTIVATIONS)}, not {activations!r}")
    if len(crops) < CROPS_PER_BATCH:
        raise ValueError(f"{len(crops)} calibration crops: at least {CROPS_PER_BATCH} are needed")
    verifier = OnnxGunVerifier.load(source, threads=1)
    if gunwatch_metadata(verifier.session).get(PRECISION_KEY, "fp32") != "fp32":
        raise ModelError(f"{source}: already quantised")
    reader = CalibrationCrops(verifier.input_name, crops)
    # In passes of a few batches: the histogram methods hold every activation of a pass in memory.
    model = _quantize_static(source, reader, method, activations,
                             {"CalibStridedMinMax": images_per_pass(len(reader), BATCHES_PER_PASS),
                              "CalibPercentile": VERIFIER_PERCENTILE})
    recipe = (f"static QDQ, per-channel 7-bit s8 weights, {activations} activations, {method} calibration on "
              f"{len(reader.batches) * CROPS_PER_BATCH} crops")
    return _save_int8(model, source, out, recipe + (f" ({recipe_note})" if recipe_note else ""))


def _quantize_static(source: Path, reader: CalibrationDataReader, method: str, activations: str,
                     extra_options: dict[str, object], keep_float: Sequence[str] = ()) -> onnx.ModelProto:
    """ONNX Runtime's static QDQ quantisation of `source` (per-channel 7-bit weights in S8), calibrated by
    `reader`.

    7-bit weights (`reduce_range`) so the file computes the same on every x86 CPU: without VNNI (AVX2, or
    AVX-512 without VNNI) the u8 x s8 kernels add two products in a 16-bit register, which 8-bit weights can
    overflow (255 x 127 x 2 > 32767) and silently saturate; with 7 bits they cannot (255 x 64 x 2 < 32767).
    Measured: the verifier's 8-bit copy lost 0.019 mAP@0.5 on test and 0.16 of the far armed people on an
    AVX2 CPU while matching its FP32 source on a VNNI one (README, "INT8")."""
    with tempfile.TemporaryDirectory(prefix="gunwatch-quantize-") as temp:
        prepared, quantized = Path(temp) / "prepared.onnx", Path(temp) / "int8.onnx"
        # ORT's symbolic shape inference cannot follow YOLOX's free height and width through the Focus slices
        # and the upsampling; ONNX shape inference and ORT's basic graph optimisations (constant folding)
        # still run, which is what the quantiser needs.
        quant_pre_process(str(source), str(prepared), skip_symbolic_shape=True)
        # ORT prints its calibration progress on stdout; stdout belongs to --json.
        with contextlib.redirect_stdout(sys.stderr):
            quantize_static(
                str(prepared), str(quantized), reader, quant_format=QuantFormat.QDQ, per_channel=True,
                activation_type=ACTIVATIONS[activations], weight_type=QuantType.QInt8,
                calibrate_method=METHODS[method], extra_options=extra_options, nodes_to_exclude=list(keep_float),
                reduce_range=True,
            )
        return onnx.load(str(quantized))


def _save_int8(model: onnx.ModelProto, source: Path, out: Path, recipe: str) -> Path:
    """Save a quantised model with its source's gunwatch.* entries (not the live alarm threshold, measured on
    clips for the FP32 scores) and where it came from."""
    kept = {key: value for key, value in source_metadata(source).items() if key != ALARM_THRESHOLD_KEY}
    # The quantiser copies the source's metadata too: start its gunwatch.* entries afresh.
    ort_entries = {p.key: p.value for p in model.metadata_props if not p.key.startswith("gunwatch.")}
    del model.metadata_props[:]
    set_metadata(model, {
        **ort_entries, **kept, PRECISION_KEY: "int8", SOURCE_KEY: source.name, SOURCE_SHA_KEY: sha256_of(source),
        RECIPE_KEY: recipe,
    })
    out.parent.mkdir(parents=True, exist_ok=True)
    onnx.save(model, str(out))
    return out


def images_per_pass(count: int, most: int = MAX_IMAGES_PER_PASS) -> int:
    """The largest pass size up to `most` that divides `count` (ORT needs equal passes)."""
    return max(size for size in range(1, most + 1) if count % size == 0)


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
