"""Does the localizer's image-level score add to the shipped pair's? (issue 11; verifier card, "Tried")

The localizer (the course's classifier with a box head, 224 px on the whole image) ranks the test split's gun
photos better than the detector and verifier pair at image level. This measures, on val and test, gun-image
recall at <= 1 / 2 / 3 / 5 % of gun-free images flagged for:
- image level: the pair's top gun score P and the localizer's L combined per image (mean, geometric mean,
  max, noisy-or 1 - (1 - P)(1 - L)), as a photo classifier would;
- box level: the pair's gun boxes raised by noisy-or with L (every box, only the pair's top box, or only
  those overlapping the localizer's box by IoU >= 0.1 / 0.3 / 0.5), as an alarm needs (its box on the
  gun), with mAP@0.5.

    python scripts/image_score_fusion.py
"""
from pathlib import Path

import numpy as np

from gunwatch.config.sections import LIVE_MAX_INPUT
from gunwatch.evaluation.report import RECALL_AT_FPRS, build_report
from gunwatch.evaluation.runner import Predictions, predict_guns
from gunwatch.evaluation.selection import select_records
from gunwatch.inference.detections import Detections
from gunwatch.inference.loading import SHIPPED_DETECTOR, SHIPPED_LOCALIZER, load_detector
from gunwatch.metrics.iou import box_iou
from gunwatch.metrics.operating import image_recall_at_fpr

DATA, SPLIT = Path("../shared/datasets/PistolData_merged"), Path("splits/pistoldata_merged.json")
# (the pair's top score, the localizer's) per image -> one score per image
IMAGE_RULES = {
    "pair alone": lambda pair, image: pair,
    "localizer alone": lambda pair, image: image,
    "mean": lambda pair, image: (pair + image) / 2,
    "geometric mean": lambda pair, image: np.sqrt(pair * image),
    "max": np.maximum,
    "noisy-or": lambda pair, image: 1 - (1 - pair) * (1 - image),
}


def top(detections: Detections) -> float:
    return float(detections.scores.max()) if len(detections.scores) else 0.0


def raised(pair: Detections, localizer: Detections, which: str | float) -> Detections:
    """The pair's gun boxes raised by noisy-or with the localizer's image score: "every" box, its "top" box, or
    those overlapping the localizer's box by at least an IoU."""
    if not len(pair.scores) or not len(localizer.scores):
        return pair
    if which == "every":
        agree = np.ones(len(pair.scores), bool)
    elif which == "top":
        agree = np.arange(len(pair.scores)) == int(np.argmax(pair.scores))
    else:
        agree = box_iou(pair.xyxy, localizer.xyxy[[int(np.argmax(localizer.scores))]])[:, 0] >= which
    scores = pair.scores.astype(np.float64)
    scores[agree] = 1 - (1 - scores[agree]) * (1 - top(localizer))
    return Detections(pair.xyxy, scores.astype(np.float32), pair.class_ids)


def recalls(gt: list[np.ndarray], preds: list) -> str:
    return " / ".join(f"{image_recall_at_fpr(gt, preds, share):.3f}" for share in RECALL_AT_FPRS)


pair = load_detector(SHIPPED_DETECTOR, verifier="auto", max_input=LIVE_MAX_INPUT)  # what `gunwatch eval` runs
localizer = load_detector(SHIPPED_LOCALIZER)
shares = " / ".join(f"{100 * share:g}" for share in RECALL_AT_FPRS)
print(f"| split | rule | gun-image recall at <= {shares} % flagged | mAP@0.5 |\n| --- | --- | --- | --- |")
for split in ("val", "test"):
    records = select_records(DATA, split, SPLIT, None, None).records
    gt = [record.gun_boxes for record in records]
    by_pair = predict_guns(pair, records, progress=False).detections
    by_localizer = predict_guns(localizer, records, progress=False).detections
    pair_tops, image_tops = np.array([top(d) for d in by_pair]), np.array([top(d) for d in by_localizer])
    for name, rule in IMAGE_RULES.items():  # one score per image, on a stand-in box
        scores = rule(pair_tops, image_tops)
        print(f"| {split} | image: {name} | {recalls(gt, [([[0, 0, 1, 1]], [s]) for s in scores])} | n/a |")
    for name, which in (("every box", "every"), ("its top box", "top"), ("IoU >= 0.1", 0.1), ("IoU >= 0.3", 0.3),
                        ("IoU >= 0.5", 0.5)):
        preds = [raised(a, b, which) for a, b in zip(by_pair, by_localizer, strict=True)]
        report, _ = build_report(records, Predictions(preds, 0.0), pair.threshold, draws=0)
        print(f"| {split} | boxes raised, {name} | {recalls(gt, preds)} | {report.map50:.3f} |")
