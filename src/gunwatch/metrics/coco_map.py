"""COCO box mAP for the single handgun class, computed by pycocotools on in-memory dicts."""

from __future__ import annotations

import contextlib
import io
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from pycocotools.coco import COCO
from pycocotools.cocoeval import COCOeval

from gunwatch import GUN_LABEL
from gunwatch.metrics._inputs import as_boxes, as_pred, check_lengths

CATEGORY_ID = 1
MAX_DETS = [1, 10, 100]
# pycocotools' own 101 recall thresholds, repeated here for the no-ground-truth short cut.
RECALL_POINTS = np.linspace(0.0, 1.0, 101)


@dataclass(frozen=True)
class CocoSummary:
    """COCO AP numbers; NaN where pycocotools says -1 (no ground truth in that size bin).

    ``precision_curve`` is the 101-point interpolated precision at IoU 0.5, area "all", maxDets 100,
    sampled at ``recall_points`` (NaN where undefined), for PR plots.
    """

    map50: float
    map50_95: float
    ap_small: float
    ap_medium: float
    ap_large: float
    precision_curve: np.ndarray
    recall_points: np.ndarray


def _nan_if_missing(value: float) -> float:
    return float("nan") if value < 0 else float(value)


def _xywh(box: np.ndarray) -> list[float]:
    # COCO bboxes are [x, y, width, height]; ours are corners.
    x1, y1, x2, y2 = (float(v) for v in box)
    return [x1, y1, x2 - x1, y2 - y1]


def _coco_from(dataset: dict[str, Any]) -> COCO:
    coco = COCO()
    coco.dataset = dataset
    coco.createIndex()
    return coco


def _ground_truth(gt_per_image: Sequence[np.ndarray], image_sizes: Sequence[tuple[int, int]]) -> COCO:
    images = [{"id": i + 1, "width": int(w), "height": int(h)} for i, (w, h) in enumerate(image_sizes)]
    annotations = []
    for image_id, gt in enumerate(gt_per_image, start=1):
        for box in as_boxes(gt):
            x, y, w, h = _xywh(box)
            # Ids start at 1: COCOeval treats a matched id of 0 as "unmatched".
            annotations.append(
                {
                    "id": len(annotations) + 1,
                    "image_id": image_id,
                    "category_id": CATEGORY_ID,
                    "bbox": [x, y, w, h],
                    "area": w * h,
                    "iscrowd": 0,
                }
            )
    categories = [{"id": CATEGORY_ID, "name": GUN_LABEL}]
    return _coco_from({"images": images, "annotations": annotations, "categories": categories})


def _results(pred_per_image: Sequence[Any]) -> list[dict[str, Any]]:
    results = []
    for image_id, pred in enumerate(pred_per_image, start=1):
        boxes, scores = as_pred(pred)
        for box, score in zip(boxes, scores, strict=True):
            results.append(
                {"image_id": image_id, "category_id": CATEGORY_ID, "bbox": _xywh(box), "score": float(score)}
            )
    return results


def _detections(coco_gt: COCO, results: list[dict[str, Any]]) -> COCO:
    if results:
        return coco_gt.loadRes(results)
    # loadRes indexes results[0], so zero predictions get an empty result set built by hand:
    # COCOeval then scores 0 wherever ground truth exists.
    dataset = {
        "images": list(coco_gt.dataset["images"]),
        "annotations": [],
        "categories": list(coco_gt.dataset["categories"]),
    }
    return _coco_from(dataset)


def _no_ground_truth() -> CocoSummary:
    nan = float("nan")
    return CocoSummary(nan, nan, nan, nan, nan, np.full(len(RECALL_POINTS), nan), RECALL_POINTS.copy())


def coco_map(
    gt_per_image: Sequence[np.ndarray],
    pred_per_image: Sequence[tuple[np.ndarray, np.ndarray]],
    image_sizes: Sequence[tuple[int, int]],
) -> CocoSummary:
    """COCO bbox AP of per-image predictions ``(boxes_xyxy, scores)`` against xyxy ground truth.

    ``image_sizes`` are (width, height). Predictions on gun-free images count as false positives.
    Without any ground-truth box every AP is undefined, so everything is NaN.
    """
    check_lengths(gt=gt_per_image, pred=pred_per_image, sizes=image_sizes)
    if sum(len(as_boxes(gt)) for gt in gt_per_image) == 0:
        return _no_ground_truth()
    # pycocotools prints progress from every step; keep evaluation output clean.
    with contextlib.redirect_stdout(io.StringIO()):
        coco_gt = _ground_truth(gt_per_image, image_sizes)
        evaluator = COCOeval(coco_gt, _detections(coco_gt, _results(pred_per_image)), iouType="bbox")
        evaluator.params.maxDets = list(MAX_DETS)
        evaluator.evaluate()
        evaluator.accumulate()
        evaluator.summarize()
    stats = evaluator.stats
    # precision: [IoU thresholds, recall points, categories, area ranges, maxDets]; IoU 0.5 is index 0.
    curve = np.array(evaluator.eval["precision"][0, :, 0, 0, MAX_DETS.index(100)], dtype=np.float64)
    curve[curve < 0] = np.nan
    return CocoSummary(
        map50=_nan_if_missing(stats[1]),
        map50_95=_nan_if_missing(stats[0]),
        ap_small=_nan_if_missing(stats[3]),
        ap_medium=_nan_if_missing(stats[4]),
        ap_large=_nan_if_missing(stats[5]),
        precision_curve=curve,
        recall_points=np.array(evaluator.params.recThrs, dtype=np.float64),
    )
