"""How well each detector finds guns by pose and size on the test split (issue 11, configs/detector-poses.yaml).

    python scripts/gun_pose_recall.py shipped=models/gunwatch-nano.onnx+models/gunwatch-verifier.onnx \
        poses=runs/detector-poses/model.onnx

A gun in profile has a box about 1.5 times as wide as tall; aimed at the camera, upright or foreshortened it
comes out square, tall or very long. For each labelled test gun: the best score of a detection on it (IoU >=
0.5), grouped by its box's aspect (width / height) and width. Prints, per model and group, the share of guns
boxed at any score, at the model's own image threshold, and at the scores that flag 2 % and 5 % of the
gun-free test images (one operating point for every model, whatever its threshold).
"""
import sys
from pathlib import Path

import numpy as np

from gunwatch.boxes import box_iou
from gunwatch.evaluation.runner import predict_guns
from gunwatch.evaluation.selection import select_records
from gunwatch.inference.loading import load_detector
from gunwatch.metrics.operating import threshold_for_image_fpr
from gunwatch.training.pose_balance import gun_aspects
from gunwatch.training.run_config import PoseBalanceConfig

DATA = Path("../shared/datasets/PistolData_merged")
LOW, HIGH = PoseBalanceConfig().profile_aspect  # the range `pose_repeats` counts as a profile
ASPECTS = {f"square or tall (< {LOW:g})": (0.0, LOW), f"profile ({LOW:g}-{HIGH:g})": (LOW, HIGH),
           f"long (>= {HIGH:g})": (HIGH, np.inf)}
WIDTHS = {"< 100 px": (0, 100), ">= 100 px": (100, np.inf)}


def best_scores(records, detections) -> np.ndarray:
    """Rows of (aspect, width, best score on the gun at IoU >= 0.5, 0 if none)."""
    rows = []
    for record, found in zip(records, detections, strict=True):
        guns = np.asarray(record.gun_boxes, np.float64).reshape(-1, 4)
        if not len(guns):
            continue
        best = np.zeros(len(guns))
        if len(found.xyxy):
            hits = box_iou(guns, np.asarray(found.xyxy, np.float64)) >= 0.5
            best = np.where(hits, np.asarray(found.scores)[None, :], 0.0).max(axis=1)
        rows += list(zip(gun_aspects(record), guns[:, 2] - guns[:, 0], best, strict=True))
    return np.array(rows)


models = dict(argument.split("=", 1) for argument in sys.argv[1:]) or {"shipped": "models/gunwatch-nano.onnx"}
test = select_records(DATA, "test", Path("splits/pistoldata_merged.json"), None, None).records
gun_free = [not len(record.gun_boxes) for record in test]
print(f"{'model':<10} {'pose':<24} {'width':<10} {'guns':>5} {'any score':>10} {'at thr':>7} {'at 2 %':>7} "
      f"{'at 5 %':>7}")
for name, spec in models.items():
    path, _, verifier = spec.partition("+")
    detector = load_detector(Path(path), verifier=verifier or "none")
    detections = predict_guns(detector, test, progress=False).detections
    rows = best_scores(test, detections)
    scored = [(found.xyxy, found.scores) for found in detections]
    thresholds = [detector.threshold, *(threshold_for_image_fpr(scored, gun_free, fpr) for fpr in (0.02, 0.05))]
    for pose, (low, high) in ASPECTS.items():
        for width, (narrow, wide) in {"all": (0, np.inf), **WIDTHS}.items():
            mask = (rows[:, 0] >= low) & (rows[:, 0] < high) & (rows[:, 1] >= narrow) & (rows[:, 1] < wide)
            shares = " ".join(f"{np.mean(rows[mask, 2] >= t):>7.2f}" for t in thresholds)
            print(f"{name:<10} {pose:<24} {width:<10} {int(mask.sum()):>5} {np.mean(rows[mask, 2] > 0):>10.2f} "
                  f"{shares}")
    shares = " ".join(f"{np.mean(rows[:, 2] >= t):>7.2f}" for t in thresholds)
    print(f"{name:<10} {'every gun':<24} {'all':<10} {len(rows):>5} {np.mean(rows[:, 2] > 0):>10.2f} {shares}  "
          f"(thresholds {', '.join(f'{t:.3f}' for t in thresholds)})")
