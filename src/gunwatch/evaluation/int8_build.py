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

from tqdm import tqdm

from gunwatch.evaluation.calibrate import calibrate_threshold
from gunwatch.evaluation.evaluate import evaluate
from gunwatch.evaluation.selection import default_split_file, select_records
from gunwatch.inference.loading import load_detector
from gunwatch.inference.quantize import METHODS, quantize_yolox, update_metadata

# The false-alarm budget of the shipped threshold: at most 1 % of the gun-free validation images flagged,
# as `gunwatch train` picks it (configs' max_val_image_fpr).
MAX_VAL_IMAGE_FPR = 0.01
# An INT8 model is worth shipping only within this much mAP@0.5 of its FP32 source (issue 11).
MAX_MAP50_DROP = 0.01


@dataclass(frozen=True)
class Candidate:
    method: str
    val_map50: float


@dataclass(frozen=True)
class Int8Build:
    path: Path
    method: str  # the calibration method kept
    threshold: float
    fp32_val_map50: float
    candidates: list[Candidate]
    calibration_images: int

    @property
    def val_map50(self) -> float:
        return next(c.val_map50 for c in self.candidates if c.method == self.method)

    @property
    def within_budget(self) -> bool:
        return self.fp32_val_map50 - self.val_map50 <= MAX_MAP50_DROP

    def to_json_dict(self) -> dict[str, object]:
        return {**asdict(self), "path": str(self.path), "val_map50": self.val_map50,
                "within_budget": self.within_budget}


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
