"""Detectors side by side on the test split, for ablations of training (issue 11).

    python scripts/compare_detectors.py shipped=models/gunwatch-nano.onnx wide=runs/detector-wide/model.onnx ...
    python scripts/compare_detectors.py verified=models/gunwatch-nano.onnx+runs/verifier/model.onnx   # with a verifier

Prints one JSON line per model: mAP, gun-image recall at its threshold and at 2 % and 5 % of gun-free
images flagged (each with its 95 % interval, `metrics/bootstrap.py`), gun-free scores by origin, and the
median milliseconds of one test image on one thread (`gunwatch bench`'s timing: letterbox, network, NMS; a
ratio between the models of one run means something, the absolute number depends on what else the machine
runs). Each model after the first also gets a line comparing it with the first on the same bootstrap
draws of the test images: the 95 % interval of the difference and the share of draws in which it came out
ahead. An interval that spans 0 says the split cannot tell the two apart.
Used for mining (configs/detector-cameras*.yaml) and width (configs/detector-wide*.yaml).
"""
import json
import sys
from pathlib import Path

import numpy as np

from gunwatch.bench.table import ms_per_frame
from gunwatch.data.images import load_rgb
from gunwatch.evaluation.report import build_report
from gunwatch.evaluation.runner import predict_guns
from gunwatch.evaluation.selection import select_records
from gunwatch.inference.loading import load_detector
from gunwatch.metrics.bootstrap import ImageSet, paired_bootstrap
from gunwatch.metrics.operating import threshold_for_image_fpr

DATA = Path("../shared/datasets/PistolData_merged")
models = dict(argument.split("=", 1) for argument in sys.argv[1:]) or {"shipped": "models/gunwatch-nano.onnx"}
test = select_records(DATA, "test", Path("splits/pistoldata_merged.json"), None, None).records
frame = load_rgb(test[0].image_path)  # the one timed
sizes = [(r.width, r.height) for r in test]
first: tuple[str, ImageSet] | None = None
for name, spec in models.items():
    path, _, verifier = spec.partition("+")
    det = load_detector(Path(path), threads=1, spinning=False, verifier=verifier or "none")
    pred = predict_guns(det, test, progress=False)
    report, _ = build_report(test, pred, det.threshold)
    pairs = [(d.xyxy, d.scores) for d in pred.detections]
    neg = np.array([len(r.gun_boxes) == 0 for r in test])
    origins = [r.origin for r in test]
    maxima = np.array([float(d.scores.max()) if d.scores.size else 0.0 for d in pred.detections])
    row = {"model": name, "map50": report.map50, "map50_95": report.map50_95, "threshold": det.threshold,
           "recall_at_thr": report.image_recall, "fpr_at_thr": report.image_fpr,
           "ms_per_frame": ms_per_frame(det, frame, 200), "intervals_95": report.intervals}
    for fpr in (0.02, 0.05):
        t = threshold_for_image_fpr(pairs, neg, fpr)
        row[f"recall_at_{fpr}"] = float((maxima[~neg] >= t).mean())
    for origin in ("knife", "cctv"):
        m = np.array([o == origin for o in origins]) & neg
        row[f"{origin}_mean_max"] = float(maxima[m].mean())
        row[f"{origin}_over_0.5"] = int((maxima[m] >= 0.5).sum())
        row[f"{origin}_n"] = int(m.sum())
    print(json.dumps(row), flush=True)
    images = ImageSet([r.gun_boxes for r in test], pairs, sizes)
    if first is None:
        first = (name, images)
        continue
    compared = paired_bootstrap(first[1], images, (0.02, 0.05))
    print(json.dumps({"model": name, "minus": first[0], **{
        key: {"difference_95": d.interval.as_list(), "ahead": round(d.ahead, 3)} for key, d in compared.items()}}),
        flush=True)
