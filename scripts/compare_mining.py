"""Issue 11 item 3: what mining hard negatives alone changes (stage 3 with and without), beside the shipped model.

Run after `gunwatch train --config configs/detector-cameras.yaml` and `...-no-mining.yaml`; prints one JSON line
per model (test split: mAP, gun-image recall at 2 % and 5 % of gun-free images flagged, gun-free scores by origin).
"""
import json
from pathlib import Path

import numpy as np

from gunwatch.evaluation.report import build_report
from gunwatch.evaluation.runner import predict_guns
from gunwatch.evaluation.selection import select_records
from gunwatch.inference.loading import load_detector
from gunwatch.metrics.operating import threshold_for_image_fpr

DATA = Path("../shared/datasets/PistolData_merged")
models = {"shipped": "models/gunwatch-nano.onnx", "stage3 mined": "runs/detector-cameras/model.onnx",
          "stage3 not mined": "runs/detector-cameras-no-mining/model.onnx"}
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
           "recall_at_thr": report.image_recall, "fpr_at_thr": report.image_fpr}
    for fpr in (0.02, 0.05):
        t = threshold_for_image_fpr(pairs, neg, fpr)
        row[f"recall_at_{fpr}"] = float((maxima[~neg] >= t).mean())
    for origin in ("knife", "cctv"):
        m = np.array([o == origin for o in origins]) & neg
        row[f"{origin}_mean_max"] = float(maxima[m].mean())
        row[f"{origin}_over_0.5"] = int((maxima[m] >= 0.5).sum())
        row[f"{origin}_n"] = int(m.sum())
    print(json.dumps(row), flush=True)
