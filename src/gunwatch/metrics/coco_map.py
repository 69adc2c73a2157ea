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
class ImageMatches:
    """pycocotools' matching at IoU 0.5 (area "all", 100 detections an image), one entry per image: each
    detection's score, whether it matched a gun and whether COCO ignores it, and the image's guns that count.
    An AP@0.5 over any multiset of the images follows from these without matching again (``ap50``)."""

    scores: list[np.ndarray]
    matched: list[np.ndarray]
    ignored: list[np.ndarray]
    guns: np.ndarray  # per image: ground-truth boxes not ignored


@dataclass(frozen=True)
class CocoSummary:
    """COCO AP numbers; NaN where pycocotools says -1 (no ground truth in that size bin).

    ``precision_curve`` is the 101-point interpolated precision at IoU 0.5, area "all", maxDets 100,
    sampled at ``recall_points`` (NaN where undefined), for PR plots. ``matches`` are the same evaluation's
    matches at IoU 0.5 (``ap50`` re-accumulates them over other draws of the images); None without guns.
    """

    map50: float
    map50_95: float
    ap_small: float
    ap_medium: float
    ap_large: float
    precision_curve: np.ndarray
    recall_points: np.ndarray
    matches: ImageMatches | None = None


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
        evaluator = _evaluated(gt_per_image, pred_per_image, image_sizes)
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
        matches=_matches_at_50(evaluator, len(gt_per_image)),
    )


def _evaluated(
    gt_per_image: Sequence[np.ndarray],
    pred_per_image: Sequence[tuple[np.ndarray, np.ndarray]],
    image_sizes: Sequence[tuple[int, int]],
) -> COCOeval:
    """A COCOeval that has matched every image (``evaluate``), not yet accumulated."""
    coco_gt = _ground_truth(gt_per_image, image_sizes)
    evaluator = COCOeval(coco_gt, _detections(coco_gt, _results(pred_per_image)), iouType="bbox")
    evaluator.params.maxDets = list(MAX_DETS)
    evaluator.evaluate()
    return evaluator


def coco_matches_at_50(
    gt_per_image: Sequence[np.ndarray],
    pred_per_image: Sequence[tuple[np.ndarray, np.ndarray]],
    image_sizes: Sequence[tuple[int, int]],
) -> ImageMatches:
    """Per image, pycocotools' own matches at IoU 0.5 (what ``coco_map``'s mAP@0.5 accumulates)."""
    check_lengths(gt=gt_per_image, pred=pred_per_image, sizes=image_sizes)
    with contextlib.redirect_stdout(io.StringIO()):
        evaluator = _evaluated(gt_per_image, pred_per_image, image_sizes)
    return _matches_at_50(evaluator, len(gt_per_image))


def _matches_at_50(evaluator: COCOeval, images: int) -> ImageMatches:
    """The evaluated images' matches at IoU 0.5, area "all", 100 detections."""
    scores, matched, ignored, guns = [], [], [], []
    # evalImgs runs category, then area range, then image: one category, so area "all" is the first block;
    # an image with neither guns nor detections is None there (nothing to add to any draw).
    for entry in evaluator.evalImgs[:images]:
        entry = entry or {"dtScores": [], "dtMatches": np.zeros((1, 0)), "dtIgnore": np.zeros((1, 0)), "gtIgnore": []}
        scores.append(np.asarray(entry["dtScores"], dtype=np.float64))
        matched.append(np.asarray(entry["dtMatches"][0], dtype=np.float64) > 0)
        ignored.append(np.asarray(entry["dtIgnore"][0], dtype=bool))
        guns.append(int(np.count_nonzero(np.asarray(entry["gtIgnore"]) == 0)))
    return ImageMatches(scores, matched, ignored, np.asarray(guns, dtype=np.int64))


def ap50(matches: ImageMatches, images: Sequence[int] | np.ndarray) -> float:
    """AP@0.5 over ``images`` (indices into ``matches``, repeats allowed, in this order), computed as
    pycocotools' ``accumulate`` does: detections by score (stable, so ties keep image order), precision made
    monotone, read at the 101 recall points. NaN where the images hold no gun."""
    images = np.asarray(images, dtype=np.int64)
    n_guns = int(matches.guns[images].sum()) if images.size else 0
    if n_guns == 0:
        return float("nan")
    scores = np.concatenate([matches.scores[i] for i in images])
    if not scores.size:
        return 0.0  # guns and no detection: pycocotools' precision is 0 at every recall point
    order = np.argsort(-scores, kind="mergesort")
    matched = np.concatenate([matches.matched[i] for i in images])[order]
    kept = ~np.concatenate([matches.ignored[i] for i in images])[order]
    tp = np.cumsum(matched & kept).astype(np.float64)
    fp = np.cumsum(~matched & kept).astype(np.float64)
    recall = tp / n_guns
    precision = tp / (tp + fp + np.spacing(1))
    # The envelope: each point's precision is the best at any higher recall.
    precision = np.maximum.accumulate(precision[::-1])[::-1]
    at = np.searchsorted(recall, RECALL_POINTS, side="left")
    curve = np.where(at < len(precision), precision[np.minimum(at, len(precision) - 1)], 0.0)
    return float(curve.mean())
