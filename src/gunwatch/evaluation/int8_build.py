"""`gunwatch quantize`: the INT8 model to ship, chosen and thresholded on the validation split only.

Calibration images are a seeded sample of the training split; each calibration method asked for is tried,
the one with the best validation mAP@0.5 is kept (ties go to the earlier method, the simpler one), and its
operating threshold is picked again on validation with the rule `gunwatch train` uses. The test split is
never looked at here, so the published test numbers stay a fair measurement.
"""

from __future__ import annotations

import random
import shutil
import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
from tqdm import tqdm

from gunwatch.checksums import sha256_of
from gunwatch.config.sections import LIVE_MAX_INPUT
from gunwatch.data.images import load_rgb
from gunwatch.evaluation.calibrate import calibrate_threshold
from gunwatch.evaluation.evaluate import evaluate
from gunwatch.evaluation.selection import default_split_file, select_records
from gunwatch.inference.loading import load_detector
from gunwatch.inference.onnx_session import ModelError, gunwatch_metadata
from gunwatch.inference.quantize import METHODS, quantize_verifier, quantize_yolox, update_metadata
from gunwatch.inference.verifier import OnnxGunVerifier

# The false-alarm budget of the shipped threshold: at most 1 % of the gun-free validation images flagged,
# as `gunwatch train` picks it (configs' max_val_image_fpr).
MAX_VAL_IMAGE_FPR = 0.01
# An INT8 model is worth shipping only within this much mAP@0.5 of its FP32 source (issue 11).
MAX_MAP50_DROP = 0.01


@dataclass(frozen=True)
class Candidate:
    method: str
    val_map50: float


class ChosenOnVal:
    """What an INT8 build kept: its method's val mAP@0.5, and whether it stays within the budget of FP32's."""

    path: Path
    method: str
    fp32_val_map50: float
    candidates: list[Candidate]

    @property
    def val_map50(self) -> float:
        return next(c.val_map50 for c in self.candidates if c.method == self.method)

    @property
    def within_budget(self) -> bool:
        return self.fp32_val_map50 - self.val_map50 <= MAX_MAP50_DROP

    def to_json_dict(self) -> dict[str, object]:
        return {**asdict(self), "path": str(self.path), "val_map50": self.val_map50,
                "within_budget": self.within_budget}


@dataclass(frozen=True)
class Int8Build(ChosenOnVal):
    path: Path
    method: str  # the calibration method kept
    threshold: float
    fp32_val_map50: float
    candidates: list[Candidate]
    calibration_images: int


def calibration_images(data: Path, split_file: Path | None, count: int, seed: int) -> list[Path]:
    """`count` training-split images, drawn with `seed` (the same list on every machine)."""
    records = select_records(data, "train", split_file).records
    if not records:
        raise ValueError(f"{data}: the train split is empty")
    chosen = random.Random(seed).sample(records, min(count, len(records)))
    return [record.image_path for record in chosen]


def build_int8_model(
    model: Path, data: Path, out: Path, split_file: Path | None = None, images: int = 200, seed: int = 0,
    methods: tuple[str, ...] = tuple(METHODS), activations: str = "u8", progress: bool = True,
) -> Int8Build:
    paths = calibration_images(data, split_file, images, seed)
    note = f"{len(paths)} train-split images drawn with seed {seed}"
    fp32_map50 = _val_map50(model, data, split_file, progress)
    candidates = []
    with tempfile.TemporaryDirectory(prefix="gunwatch-int8-") as temp:
        for method in methods:
            path = Path(temp) / f"{method}.onnx"
            with tqdm(total=len(paths), desc=f"calibrating ({method})", unit="img", disable=not progress) as bar:
                quantize_yolox(model, paths, path, method, activations, on_image=bar.update, recipe_note=note)
            candidates.append(Candidate(method, _val_map50(path, data, split_file, progress)))
        best = max(candidates, key=lambda c: c.val_map50)  # max keeps the first of equals
        out.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(Path(temp) / f"{best.method}.onnx", out)
    threshold = calibrate_threshold(out, data, split_file or default_split_file(data), "val", MAX_VAL_IMAGE_FPR)
    # repr keeps every digit: a threshold rounded down would flag the gun-free image it was chosen to pass.
    update_metadata(out, {"gunwatch.threshold": repr(float(threshold))})
    return Int8Build(out, best.method, threshold, fp32_map50, candidates, len(paths))


def _val_map50(model: Path, data: Path, split_file: Path | None, progress: bool) -> float:
    return evaluate(load_detector(model), data, "val", split_file, progress=progress).report.map50


def format_int8_build(build: Int8Build) -> str:
    lines = [f"{'validation split':<28} {'mAP@0.5':>8} {'vs FP32':>8}", f"{'FP32':<28} {build.fp32_val_map50:>8.3f}"]
    for candidate in build.candidates:
        kept = "  <- kept" if candidate.method == build.method else ""
        drop = candidate.val_map50 - build.fp32_val_map50
        lines.append(f"{'INT8, ' + candidate.method:<28} {candidate.val_map50:>8.3f} {drop:>+8.3f}{kept}")
    lines.append(f"calibration: {build.calibration_images} train-split images; threshold {build.threshold:.4f} "
                 f"(val: <= {MAX_VAL_IMAGE_FPR:.0%} of gun-free images flagged)")
    if not build.within_budget:
        lines.append(f"note: more than {MAX_MAP50_DROP} mAP@0.5 below FP32 on val: not worth shipping")
    lines.append(f"wrote {build.path}")
    return "\n".join(lines)


@dataclass(frozen=True)
class VerifierInt8Build(ChosenOnVal):
    path: Path
    method: str
    threshold: float
    fp32_val_map50: float
    fp32_val_recall: float  # gun-image recall at each file's own val threshold (<= 1 % of gun-free flagged)
    candidates: list[Candidate]
    val_recalls: dict[str, float]
    calibration_images: int
    calibration_crops: int


class _CropRecorder:
    """The verifier a calibration run talks to: it judges as the real one and keeps a copy of every crop."""

    def __init__(self, verifier: OnnxGunVerifier):
        self.verifier, self.crops = verifier, []

    def __getattr__(self, name: str) -> object:
        return getattr(self.verifier, name)

    def judge(self, crops: np.ndarray) -> np.ndarray:
        self.crops.append(crops.copy())
        return self.verifier.judge(crops)


def live_verifier_crops(detector: Path, verifier: Path, images: list[Path], progress: bool = True) -> np.ndarray:
    """The crops the live pipeline would hand `verifier` on these images: the detector's candidates on the
    whole image and on the second look's person crops, cut as the runtime cuts them."""
    live = load_detector(detector, verifier=verifier, second_look=True, max_input=LIVE_MAX_INPUT)
    verified = live.look.detector  # the verified detector both passes run through
    recorder = _CropRecorder(verified.verifier)
    verified.verifier = recorder
    for path in tqdm(images, desc="cutting calibration crops", unit="img", disable=not progress):
        live.detect([load_rgb(path)])
    side = recorder.verifier.side
    return np.concatenate(recorder.crops) if recorder.crops else np.zeros((0, side, side, 3), np.uint8)


def build_int8_verifier(
    verifier: Path, data: Path, out: Path, split_file: Path | None = None, images: int = 200, seed: int = 0,
    methods: tuple[str, ...] = tuple(METHODS), activations: str = "u8", progress: bool = True,
) -> VerifierInt8Build:
    """The verifier's INT8 copy: calibrated on the live crops of a seeded draw of training images, the method
    with the best val mAP@0.5 of the pipeline (its detector and it, as `gunwatch eval` runs them) kept, and its
    image threshold measured again on val."""
    detector = paired_detector(verifier)
    paths = calibration_images(data, split_file, images, seed)
    crops = live_verifier_crops(detector, verifier, paths, progress)
    note = f"live crops of {len(paths)} train-split images drawn with seed {seed}"
    split = split_file or default_split_file(data)
    fp32 = evaluate(load_detector(detector, verifier=verifier), data, "val", split, progress=progress).report
    candidates, recalls = [], {}
    with tempfile.TemporaryDirectory(prefix="gunwatch-int8-") as temp:
        for method in methods:
            path = Path(temp) / f"{method}.onnx"
            quantize_verifier(verifier, crops, path, method, activations, recipe_note=note)
            threshold = calibrate_threshold(detector, data, split, "val", MAX_VAL_IMAGE_FPR, verifier=path)
            update_metadata(path, {"gunwatch.threshold": repr(float(threshold))})
            report = evaluate(load_detector(detector, verifier=path), data, "val", split, progress=progress).report
            candidates.append(Candidate(method, report.map50))
            recalls[method] = report.image_recall
        best = max(candidates, key=lambda c: c.val_map50)
        out.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(Path(temp) / f"{best.method}.onnx", out)
    threshold = float(OnnxGunVerifier.load(out, threads=1).threshold)
    return VerifierInt8Build(out, best.method, threshold, fp32.map50, fp32.image_recall, candidates, recalls,
                             len(paths), len(crops))


def paired_detector(verifier: Path) -> Path:
    """The detector file a verifier was calibrated with: named in its metadata, beside it, same sha256."""
    loaded = OnnxGunVerifier.load(verifier, threads=1)
    name = gunwatch_metadata(loaded.session).get("gunwatch.detector", "")
    detector = verifier.parent / name
    if not name or not detector.is_file() or sha256_of(detector) != loaded.detector_sha256:
        raise ModelError(f"{verifier}: the detector it was calibrated with ({name or 'not named'}) is not beside "
                         "it unchanged; quantise it where its detector is")
    return detector


def format_verifier_int8_build(build: VerifierInt8Build) -> str:
    lines = [f"{'validation split (detector + verifier)':<40} {'mAP@0.5':>8} {'vs FP32':>8} {'recall':>7}",
             f"{'FP32':<40} {build.fp32_val_map50:>8.3f} {'':>8} {build.fp32_val_recall:>7.3f}"]
    for candidate in build.candidates:
        kept = "  <- kept" if candidate.method == build.method else ""
        drop = candidate.val_map50 - build.fp32_val_map50
        lines.append(f"{'INT8, ' + candidate.method:<40} {candidate.val_map50:>8.3f} {drop:>+8.3f} "
                     f"{build.val_recalls[candidate.method]:>7.3f}{kept}")
    lines.append(f"calibration: {build.calibration_crops} crops of {build.calibration_images} train-split images; "
                 f"threshold {build.threshold:.4f} (val: <= {MAX_VAL_IMAGE_FPR:.0%} of gun-free images flagged); "
                 "recall = gun-image recall at each file's threshold")
    if not build.within_budget:
        lines.append(f"note: more than {MAX_MAP50_DROP} mAP@0.5 below FP32 on val: not worth shipping")
    lines.append(f"wrote {build.path} (no live alarm threshold yet: measure one with gunwatch bench alarms)")
    return "\n".join(lines)
