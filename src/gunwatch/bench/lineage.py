"""`gunwatch bench lineage`: the course's detector lineage measured on guns, next to the production detector.

Every model runs through the same code as `gunwatch eval` on the same images of the fixed test split (a
seeded sample of it when `limit` is given: selective search and R-CNN take seconds per image), and is
timed the same way on 1 thread and on all cores. Per method:
- regions per image: the windows (sliding window) or proposals (selective search, the RPN's) the method
  scores for one image; 1 pass for a single-shot detector;
- ms per image for the whole `detect` call (proposals included), median of `runs` calls on each of a few
  fixed images, and the speed-up over R-CNN measured in the same run;
- mAP@0.5 and mAP@0.5:0.95 (pycocotools, as `eval`);
- gun-image recall at <= 2 % of the gun-free images flagged (each method at its own score for that rate,
  so the operating points compare, not the thresholds);
- training time, from the run's `history.json` where the model file names its run.
The course's VOC 2007 numbers stand beside them (R-CNN, Fast R-CNN, Faster R-CNN: 50 / 2 / 0.2 s per image,
mAP 66.0 / 66.9 / 66.9): another data set and GPU, so only the shape of the curve compares.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from gunwatch.bench.table import network_of, recall_at_fpr
from gunwatch.data.images import load_rgb
from gunwatch.data.records import ImageRecord
from gunwatch.evaluation.report import build_report
from gunwatch.evaluation.runner import predict_guns
from gunwatch.evaluation.selection import default_split_file, sample_records, select_records
from gunwatch.inference.base import Detector
from gunwatch.inference.loading import load_detector
from gunwatch.inference.onnx_session import gunwatch_metadata, open_session
from gunwatch.inference.onnx_yolox import OnnxYolox

MAX_IMAGE_FPR = 0.02
TIMED_IMAGES = 3  # fixed images of the split (the first gun images): every method times the same ones

# The course's table (Girshick et al.; Ren et al.): PASCAL VOC 2007 test, on a GPU of 2015.
COURSE_VOC2007: dict[str, tuple[float, float]] = {  # kind -> (seconds per image, mAP@0.5 in %)
    "rcnn": (50.0, 66.0),
    "fast-rcnn": (2.0, 66.9),
    "faster-rcnn": (0.2, 66.9),
}
METHOD_NAMES = {
    "localizer": "localizer (one box per image)",
    "sliding-window": "sliding window + NMS",
    "rcnn": "R-CNN",
    "fast-rcnn": "Fast R-CNN",
    "faster-rcnn": "Faster R-CNN",
    "yolox": "YOLOX-Nano (production)",
}


def method_name(kind: str, metadata: dict[str, str], second_look: bool) -> str:
    """The table's name of a model: its method, Fast R-CNN's RoI operation (pool and align are compared)."""
    name = METHOD_NAMES.get(kind, kind)
    if kind == "fast-rcnn":
        name += f" (RoI {metadata.get('gunwatch.roi_op', 'pool')})"
    return name + (" + second look" if second_look else "")


@dataclass(frozen=True)
class LineageRow:
    model: str  # the file's stem
    kind: str  # gunwatch.kind
    method: str
    second_look: bool
    images: int
    regions_per_image: float
    ms_1_thread: float
    ms_all_cores: float
    map50: float
    map50_95: float
    recall_at_2pct: float  # gun images found at <= 2 % of gun-free images flagged
    score_at_2pct: float
    train_minutes: float | None
    course_s_per_image: float | None
    course_map50: float | None

    def to_json_dict(self) -> dict[str, object]:
        return asdict(self)


def regions_per_image(detector: Detector, image: np.ndarray) -> float:
    """The windows or proposals the method scores for `image`; for YOLOX the grid points its one pass scores
    (strides 8, 16, 32 of the letterboxed input), for the localizer its one box."""
    count = getattr(detector, "regions", None)
    if callable(count):
        return float(count(image))
    if isinstance(detector, OnnxYolox):
        height, width = detector.input_size
        return float(sum((height // stride) * (width // stride) for stride in (8, 16, 32)))
    return 1.0


def ms_per_image(detector: Detector, images: list[np.ndarray], runs: int) -> float:
    """Median over `runs` calls on each image, after one warm-up call each."""
    times = []
    for image in images:
        detector.detect([image])
        for _ in range(runs):
            start = time.perf_counter()
            detector.detect([image])
            times.append(1000 * (time.perf_counter() - start))
    return float(np.median(times))


def train_minutes(model: Path) -> float | None:
    """Minutes of training from the run folder the model was exported to (`<run>/model.onnx`): the epochs'
    `seconds` (or `epoch_minutes`) in its `history.json`, or the stages' `*_s` in its `summary.json` (R-CNN:
    selective search, features, SVM). None when the run recorded no times, or not for every epoch."""
    history = _json_file(model.parent / "history.json")
    if isinstance(history, list):
        epochs = [e for e in history if isinstance(e, dict)]
        times = [float(e["seconds"]) if "seconds" in e else 60 * float(e["epoch_minutes"])
                 for e in epochs if "seconds" in e or "epoch_minutes" in e]
        if times and len(times) < len(epochs):
            return None  # some epochs ran before times were recorded: a sum would understate the training
        if times:
            return sum(times) / 60
    summary = _json_file(model.parent / "summary.json")
    if isinstance(summary, dict):
        stages = [float(v) for k, v in summary.items() if k.endswith("_s") and isinstance(v, int | float)]
        if stages:
            return sum(stages) / 60
    return None


def _json_file(path: Path) -> object:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


def bench_lineage_model(model: Path, records: list[ImageRecord], runs: int, second_look: bool = False,
                        progress: Callable[[str], None] = lambda _: None) -> LineageRow:
    cores = os.cpu_count() or 1
    metadata = gunwatch_metadata(open_session(model, 1))
    kind = metadata.get("gunwatch.kind", "?")
    detector = load_detector(model, threads=cores, second_look=second_look)
    progress(f"{model.stem}{' + second look' if second_look else ''}: {len(records)} images")
    predictions = predict_guns(detector, records, progress=True)
    report, _ = build_report(records, predictions, detector.threshold, draws=0)
    recall, score = recall_at_fpr(records, predictions, MAX_IMAGE_FPR)
    timed = [load_rgb(r.image_path) for r in [r for r in records if r.has_gun][:TIMED_IMAGES]]
    network = network_of(detector)  # under the second look: the crops are more passes of the same network
    runs_per_image = getattr(network, "images_run", len(records)) / max(len(records), 1)
    regions = runs_per_image * float(np.mean([regions_per_image(network, image) for image in timed]))
    timings = {}
    for threads in sorted({1, cores}):
        timings[threads] = ms_per_image(load_detector(model, threads=threads, second_look=second_look), timed, runs)
    course = COURSE_VOC2007.get(kind)
    return LineageRow(
        model=model.stem, kind=kind, method=method_name(kind, metadata, second_look),
        second_look=second_look, images=len(records), regions_per_image=regions,
        ms_1_thread=timings[1], ms_all_cores=timings[cores], map50=report.map50, map50_95=report.map50_95,
        recall_at_2pct=recall, score_at_2pct=score, train_minutes=train_minutes(model),
        course_s_per_image=course[0] if course else None, course_map50=course[1] if course else None,
    )


def bench_lineage(models: list[tuple[Path, bool]], data: Path, split_file: Path | None, limit: int | None,
                  runs: int, progress: Callable[[str], None] = lambda _: None) -> list[LineageRow]:
    """`models`: (file, second look) pairs, in the table's order."""
    # The test split where the data set has a split file, else all of it (as `gunwatch bench`).
    split = "test" if split_file is not None or default_split_file(data).exists() else None
    records = sample_records(select_records(data, split, split_file).records, limit)
    return [bench_lineage_model(path, records, runs, look, progress) for path, look in models]
