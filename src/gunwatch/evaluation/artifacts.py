"""The pictures an evaluation leaves behind: PR curve, image-level rates, worst misses, worst false alarms."""

from __future__ import annotations

from pathlib import Path

from gunwatch.data.images import load_rgb
from gunwatch.data.records import ImageRecord
from gunwatch.evaluation.report import EvalReport
from gunwatch.inference.detections import Detections
from gunwatch.metrics.coco_map import CocoSummary
from gunwatch.metrics.operating import image_rates_curve
from gunwatch.metrics.plots import GalleryItem, plot_gallery, plot_image_rates, plot_pr_curve
from gunwatch.metrics.worst import select_worst

GALLERY_SIZE = 8


def write_artifacts(
    out: Path, records: list[ImageRecord], preds: list[Detections], report: EvalReport, coco: CocoSummary, title: str
) -> list[Path]:
    out.mkdir(parents=True, exist_ok=True)
    pr = plot_pr_curve(
        coco.precision_curve,
        coco.recall_points,
        out / "pr_curve.png",
        operating=(report.precision, report.recall),
        title=f"{title}  AP50 {report.map50:.3f}",
    )
    gt = [r.gun_boxes for r in records]
    _, fpr, recall = image_rates_curve(gt, preds)
    rates = plot_image_rates(fpr, recall, out / "image_rates.png", operating=(report.image_fpr, report.image_recall),
                             marks={float(share): found for share, found in report.image_recall_at_fpr.items()},
                             title=title)
    worst = select_worst(gt, preds, report.threshold, n=GALLERY_SIZE)
    misses = plot_gallery(_items(records, preds, worst.misses, report.threshold), out / "worst_misses.png")
    alarms = plot_gallery(_items(records, preds, worst.false_alarms, report.threshold), out / "false_alarms.png")
    return [pr, rates, misses, alarms]


def _items(records: list[ImageRecord], preds: list[Detections], indices: tuple[int, ...], threshold: float):
    items = []
    for index in indices:
        record, kept = records[index], preds[index].above(threshold)
        items.append(GalleryItem(load_rgb(record.image_path), record.gun_boxes, kept.xyxy, kept.scores, record.key))
    return items
