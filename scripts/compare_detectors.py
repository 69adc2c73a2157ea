"""Detectors side by side on the test split, for ablations of training (issue 11).

    python scripts/compare_detectors.py shipped=models/gunwatch-nano.onnx wide=runs/detector-wide/model.onnx ...

Prints one JSON line per model: mAP, gun-image recall at its threshold and at 2 % and 5 % of gun-free
images flagged, gun-free scores by origin, and the median milliseconds of one network run at 416 px on one
thread (a ratio between the models of one run means something; the absolute number depends on what else
the machine runs).
Used for mining (configs/detector-cameras*.yaml) and width (configs/detector-wide*.yaml).
"""
import json
import sys
import time
from pathlib import Path

import numpy as np
import onnxruntime as ort

from gunwatch.evaluation.report import build_report
from gunwatch.evaluation.runner import predict_guns
from gunwatch.evaluation.selection import select_records
from gunwatch.inference.loading import load_detector
from gunwatch.metrics.operating import threshold_for_image_fpr


def ms_per_run(path: Path, side: int = 416, runs: int = 50) -> float:
    """Median time of the network alone (no decoding, letterbox or NMS), one thread, one image."""
    options = ort.SessionOptions()
    options.intra_op_num_threads = options.inter_op_num_threads = 1
    session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    pixels = np.random.default_rng(0).uniform(0, 255, (1, 3, side, side)).astype(np.float32)
    timings = []
    for run in range(runs + 5):
        started = time.perf_counter()
        session.run(None, {"images": pixels})
        if run >= 5:  # the first runs warm the caches
            timings.append(time.perf_counter() - started)
    return 1000 * float(np.median(timings))


DATA = Path("../shared/datasets/PistolData_merged")
models = dict(argument.split("=", 1) for argument in sys.argv[1:]) or {"shipped": "models/gunwatch-nano.onnx"}
test = select_records(DATA, "test", Path("splits/pistoldata_merged.json"), None, None).records
for name, path in models.items():
    det = load_detector(Path(path), threads=1, spinning=False)
    pred = predict_guns(det, test, progress=False)
    report, _ = build_report(test, pred, det.threshold)
    pairs = [(d.xyxy, d.scores) for d in pred.detections]
    neg = np.array([len(r.gun_boxes) == 0 for r in test])
    origins = [r.origin for r in test]
    maxima = np.array([float(d.scores.max()) if d.scores.size else 0.0 for d in pred.detections])
    row = {"model": name, "map50": report.map50, "map50_95": report.map50_95, "threshold": det.threshold,
           "recall_at_thr": report.image_recall, "fpr_at_thr": report.image_fpr, "ms_per_run": ms_per_run(Path(path))}
    for fpr in (0.02, 0.05):
        t = threshold_for_image_fpr(pairs, neg, fpr)
        row[f"recall_at_{fpr}"] = float((maxima[~neg] >= t).mean())
    for origin in ("knife", "cctv"):
        m = np.array([o == origin for o in origins]) & neg
        row[f"{origin}_mean_max"] = float(maxima[m].mean())
        row[f"{origin}_over_0.5"] = int((maxima[m] >= 0.5).sum())
        row[f"{origin}_n"] = int(m.sum())
    print(json.dumps(row), flush=True)
