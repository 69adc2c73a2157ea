"""The evaluation report: one fixed set of keys, computed from records and predictions."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field

from gunwatch.data.records import ImageRecord
from gunwatch.evaluation.runner import Predictions
from gunwatch.inference.detections import Detections
from gunwatch.metrics.bootstrap import DRAWS, ImageSet, Interval, bootstrap
from gunwatch.metrics.coco_map import CocoSummary, coco_map
from gunwatch.metrics.intervals import interval_text, proportion_interval
from gunwatch.metrics.iou import mean_best_iou
from gunwatch.metrics.operating import OperatingPoint, image_recall_at_fpr, operating_point

# The documented `gunwatch eval --json` keys, in order (README: "Evaluation report").
REPORT_KEYS = (
    "images", "map50", "map50_95", "ap_small", "ap_medium", "ap_large", "precision", "recall", "f1",
    "image_recall", "image_fpr", "fp_per_negative_image", "mean_iou", "ms_per_image", "threshold",
)
# Gun-free images flagged at which gun-image recall is also reported, free of the model's threshold: the
# issue's targets (2 % on the test split, 3 % of people photos, 5 % at 1080p) and the calibration's 1 %.
RECALL_AT_FPRS = (0.01, 0.02, 0.03, 0.05)


@dataclass(frozen=True)
class EvalReport:
    images: int
    map50: float
    map50_95: float
    ap_small: float
    ap_medium: float
    ap_large: float
    precision: float
    recall: float
    f1: float
    image_recall: float
    image_fpr: float
    fp_per_negative_image: float
    mean_iou: float
    ms_per_image: float
    threshold: float
    # Beyond the fixed keys: gun / no-gun accuracy per image at the threshold (the notebook's "accuracy"),
    # gun-free images flagged per origin (e.g. the surveillance `cctv` frames), and gun-image recall where
    # at most each of RECALL_AT_FPRS of the set's gun-free images is flagged (keys "0.01", ...).
    image_accuracy: float = float("nan")
    image_fpr_by_origin: dict[str, float] = field(default_factory=dict)
    image_recall_at_fpr: dict[str, float] = field(default_factory=dict)
    # 95 % intervals (README, "Evaluation report"): "map50" and "image_recall_at_fpr" (per share) from a
    # bootstrap over the images, "image_recall" and "image_fpr" exact binomial at the threshold; each
    # [low, high]. Empty when none were asked for (draws 0).
    intervals: dict[str, object] = field(default_factory=dict)

    def to_json_dict(self) -> dict[str, object]:
        """NaN (undefined, e.g. no small guns) becomes null so the output is strict JSON."""
        return {key: _json_number(value) for key, value in asdict(self).items()}


def build_report(
    records: list[ImageRecord], predictions: Predictions, threshold: float, draws: int = DRAWS
) -> tuple[EvalReport, CocoSummary]:
    """The report at ``threshold``; with ``draws`` > 0 also its 95 % intervals (a seeded bootstrap, so the
    same predictions always give the same intervals)."""
    gt = [record.gun_boxes for record in records]
    preds = predictions.detections
    sizes = [(r.width, r.height) for r in records]
    coco = coco_map(gt, [(d.xyxy, d.scores) for d in preds], sizes)
    point = operating_point(gt, preds, threshold)
    report = EvalReport(
        images=len(records),
        map50=coco.map50,
        map50_95=coco.map50_95,
        ap_small=coco.ap_small,
        ap_medium=coco.ap_medium,
        ap_large=coco.ap_large,
        precision=point.precision,
        recall=point.recall,
        f1=point.f1,
        image_recall=point.image_recall,
        image_fpr=point.image_fpr,
        fp_per_negative_image=point.fp_per_negative_image,
        # Mean IoU counts every prediction, as the notebook did (it had no threshold).
        mean_iou=mean_best_iou(gt, [d.xyxy for d in preds]),
        ms_per_image=predictions.ms_per_image,
        threshold=threshold,
        image_accuracy=image_accuracy(records, preds, threshold),
        image_fpr_by_origin=image_fpr_by_origin(records, preds, threshold),
        image_recall_at_fpr={f"{fpr:g}": image_recall_at_fpr(gt, preds, fpr) for fpr in RECALL_AT_FPRS},
        intervals=report_intervals(ImageSet(gt, [(d.xyxy, d.scores) for d in preds], sizes, coco.matches), point,
                                   draws) if draws else {},
    )
    return report, coco


def report_intervals(images: ImageSet, point: OperatingPoint, draws: int) -> dict[str, object]:
    """The report's 95 % intervals: bootstrap for the threshold-free numbers, exact binomial at the threshold
    (there the counts are plain shares of images)."""
    drawn = bootstrap(images, RECALL_AT_FPRS, draws=draws)
    flagged_guns = round(point.image_recall * point.gun_images) if point.gun_images else 0
    flagged_free = round(point.image_fpr * point.negative_images) if point.negative_images else 0
    return {
        "map50": drawn.pop("map50").as_list(),
        "image_recall_at_fpr": {share: interval.as_list() for share, interval in drawn.items()},
        "image_recall": Interval(*proportion_interval(flagged_guns, point.gun_images)).as_list(),
        "image_fpr": Interval(*proportion_interval(flagged_free, point.negative_images)).as_list(),
    }


def image_accuracy(records: list[ImageRecord], preds: list[Detections], threshold: float) -> float:
    """Share of images whose flag (any gun detection at the threshold) agrees with whether they hold a gun."""
    agree = [record.has_gun == bool(len(d.above(threshold))) for record, d in zip(records, preds, strict=True)]
    return sum(agree) / len(agree) if agree else float("nan")


def image_fpr_by_origin(records: list[ImageRecord], preds: list[Detections], threshold: float) -> dict[str, float]:
    flagged: dict[str, list[bool]] = {}
    for record, detections in zip(records, preds, strict=True):
        if not record.has_gun:
            flagged.setdefault(record.origin or "unknown", []).append(bool(len(detections.above(threshold))))
    return {origin: sum(marks) / len(marks) for origin, marks in sorted(flagged.items())}


def format_report(report: EvalReport, title: str) -> str:
    """The human-readable report (stderr); each number with its 95 % interval where the report has one."""
    spans = report.intervals

    def fmt(value: float, key: str) -> str:
        return _fmt(value) + (f"  ({interval_text(spans[key])})" if key in spans else "")

    rows = [
        ("images", f"{report.images}"),
        ("mAP@0.5", fmt(report.map50, "map50")),
        ("mAP@0.5:0.95", _fmt(report.map50_95)),
        ("AP small / medium / large", " / ".join(map(_fmt, (report.ap_small, report.ap_medium, report.ap_large)))),
        (f"at threshold {report.threshold:.3f}: precision", _fmt(report.precision)),
        ("  recall / F1", f"{_fmt(report.recall)} / {_fmt(report.f1)}"),
        ("  image accuracy (gun / no gun)", _fmt(report.image_accuracy)),
        ("  gun-image recall", fmt(report.image_recall, "image_recall")),
        ("  gun-free images flagged (FPR)", fmt(report.image_fpr, "image_fpr")),
        *((f"    of origin {origin}", _fmt(value)) for origin, value in report.image_fpr_by_origin.items()),
        ("  false positives per gun-free image", _fmt(report.fp_per_negative_image)),
        *_recall_at_fpr_rows(report.image_recall_at_fpr, spans.get("image_recall_at_fpr")),
        ("mean IoU (best match per gun)", _fmt(report.mean_iou)),
        ("ms per image", f"{report.ms_per_image:.1f}"),
    ]
    width = max(len(name) for name, _ in rows)
    lines = [title, *(f"  {name:<{width}}  {value}" for name, value in rows)]
    if spans:
        lines.append("  (95 % intervals: mAP and the recalls at <= x % from a bootstrap over the images, gun and "
                     "gun-free images drawn apart; at the threshold exact binomial)")
    return "\n".join(lines)


def _recall_at_fpr_rows(recalls: dict[str, float], spans: object = None) -> list[tuple[str, str]]:
    """The threshold-free recalls, "at <= 1 / 2 / 3 / 5 % of gun-free images flagged", and their intervals."""
    if not recalls:
        return []
    shares = " / ".join(f"{100 * float(fpr):g}" for fpr in recalls)
    rows = [(f"gun-image recall at <= {shares} % gun-free flagged", " / ".join(map(_fmt, recalls.values())))]
    if isinstance(spans, dict) and spans:
        texts = (interval_text(spans[share]) for share in recalls if share in spans)
        rows.append(("  95 % intervals", " / ".join(texts)))
    return rows


def _json_number(value: object) -> object:
    if isinstance(value, float) and math.isnan(value):
        return None
    if isinstance(value, dict):
        return {k: _json_number(v) for k, v in value.items()}
    return value


def _fmt(value: float) -> str:
    return "n/a" if math.isnan(value) else f"{value:.3f}"
