import contextlib
import io
import math

import numpy as np
import pytest
from pycocotools.coco import COCO
from pycocotools.cocoeval import COCOeval

from gunwatch.inference.detections import Detections
from gunwatch.metrics.coco_map import CocoSummary, ap50, coco_map, coco_matches_at_50
from support.arrays import NO_PRED, boxes, pred

SIZE = (640, 480)  # (width, height)
MEDIUM = [10, 10, 60, 60]  # 50x50 = 2500 px: COCO "medium" (32^2 .. 96^2)
MEDIUM_2 = [300, 200, 360, 260]
SMALL = [100, 100, 120, 120]  # 20x20 = 400 px < 32^2
LARGE = [0, 0, 200, 150]  # 30000 px > 96^2
ELSEWHERE = [500, 400, 550, 450]




def test_perfect_predictions_score_one():
    gt = [boxes(MEDIUM, MEDIUM_2), boxes(SMALL), boxes(LARGE), boxes()]
    preds = [pred([MEDIUM, MEDIUM_2], [0.9, 0.8]), pred([SMALL], [0.7]), pred([LARGE], [0.95]), NO_PRED]
    summary = coco_map(gt, preds, [SIZE] * 4)
    assert isinstance(summary, CocoSummary)
    for value in (summary.map50, summary.map50_95, summary.ap_small, summary.ap_medium, summary.ap_large):
        assert value == pytest.approx(1.0)
    np.testing.assert_allclose(summary.precision_curve, 1.0)
    np.testing.assert_allclose(summary.recall_points, np.linspace(0, 1, 101))


@pytest.mark.parametrize(
    ("gt", "preds", "expected_ap50"),
    [
        # One gun. Ranked: FP (0.9) -> P=0, R=0; TP (0.8) -> P=1/2, R=1.
        # Interpolated precision (max to the right) is 1/2 at every recall point 0.00..1.00,
        # so AP50 = 101 * 0.5 / 101 = 0.5. The TP is exact, so every IoU threshold agrees.
        pytest.param([boxes(MEDIUM)], [pred([ELSEWHERE, MEDIUM], [0.9, 0.8])], 0.5, id="fp-above-tp"),
        # Two guns in two images. Ranked: TP 0.9 (P=1, R=.5); FP 0.8 (P=.5, R=.5); TP 0.7 (P=2/3, R=1).
        # Interpolated: 1.0 for recall points 0.00..0.50 (51 points), 2/3 for 0.51..1.00 (50 points):
        # AP50 = (51 * 1 + 50 * 2/3) / 101 = 0.83498...
        pytest.param(
            [boxes(MEDIUM), boxes(MEDIUM_2)],
            [pred([MEDIUM], [0.9]), pred([ELSEWHERE, MEDIUM_2], [0.8, 0.7])],
            (51 + 50 * 2 / 3) / 101,
            id="fp-between-tps",
        ),
    ],
)
def test_hand_computed_ap50(gt, preds, expected_ap50):
    summary = coco_map(gt, preds, [SIZE] * len(gt))
    assert summary.map50 == pytest.approx(expected_ap50)
    assert summary.map50_95 == pytest.approx(expected_ap50)
    # The 101-point curve averages to AP50 by construction.
    assert np.nanmean(summary.precision_curve) == pytest.approx(expected_ap50)


def _pycocotools_direct() -> np.ndarray:
    """The same small problem written directly in COCO's [x, y, width, height] and run through pycocotools."""
    gt = {
        "images": [{"id": i, "width": 640, "height": 480} for i in (1, 2, 3)],
        "categories": [{"id": 1, "name": "handgun"}],
        "annotations": [
            {"id": 1, "image_id": 1, "category_id": 1, "bbox": [100, 100, 50, 80], "area": 4000, "iscrowd": 0},
            {"id": 2, "image_id": 1, "category_id": 1, "bbox": [300, 200, 120, 60], "area": 7200, "iscrowd": 0},
            {"id": 3, "image_id": 2, "category_id": 1, "bbox": [50, 60, 200, 150], "area": 30000, "iscrowd": 0},
            {"id": 4, "image_id": 2, "category_id": 1, "bbox": [400, 300, 20, 25], "area": 500, "iscrowd": 0},
        ],
    }
    dets = [
        {"image_id": 1, "category_id": 1, "bbox": [105, 98, 50, 80], "score": 0.9},
        {"image_id": 1, "category_id": 1, "bbox": [300, 210, 110, 60], "score": 0.6},
        {"image_id": 1, "category_id": 1, "bbox": [10, 10, 20, 20], "score": 0.7},
        {"image_id": 2, "category_id": 1, "bbox": [60, 70, 200, 150], "score": 0.8},
        {"image_id": 2, "category_id": 1, "bbox": [402, 303, 20, 25], "score": 0.4},
        {"image_id": 3, "category_id": 1, "bbox": [0, 0, 40, 40], "score": 0.5},
    ]
    with contextlib.redirect_stdout(io.StringIO()):
        coco_gt = COCO()
        coco_gt.dataset = gt
        coco_gt.createIndex()
        evaluator = COCOeval(coco_gt, coco_gt.loadRes(dets), iouType="bbox")
        evaluator.evaluate()
        evaluator.accumulate()
        evaluator.summarize()
    return evaluator.stats, evaluator.eval["precision"][0, :, 0, 0, 2]


def test_matches_pycocotools_run_directly():
    stats, curve = _pycocotools_direct()
    # The same boxes as corners: x2 = x + w, y2 = y + h.
    gt = [boxes([100, 100, 150, 180], [300, 200, 420, 260]), boxes([50, 60, 250, 210], [400, 300, 420, 325]), boxes()]
    preds = [
        pred([[105, 98, 155, 178], [300, 210, 410, 270], [10, 10, 30, 30]], [0.9, 0.6, 0.7]),
        pred([[60, 70, 260, 220], [402, 303, 422, 328]], [0.8, 0.4]),
        pred([[0, 0, 40, 40]], [0.5]),
    ]
    summary = coco_map(gt, preds, [SIZE] * 3)
    expected = [stats[1], stats[0], stats[3], stats[4], stats[5]]
    got = [summary.map50, summary.map50_95, summary.ap_small, summary.ap_medium, summary.ap_large]
    np.testing.assert_allclose(got, expected)
    np.testing.assert_allclose(summary.precision_curve, curve)
    # A non-trivial case: partial overlaps make mAP@[.5:.95] fall below AP50.
    assert 0 < summary.map50_95 < summary.map50 < 1


def test_small_box_only_fills_the_small_bin():
    summary = coco_map([boxes(SMALL)], [pred([SMALL], [0.9])], [SIZE])
    assert summary.ap_small == pytest.approx(1.0)
    assert math.isnan(summary.ap_medium)
    assert math.isnan(summary.ap_large)
    assert summary.map50 == pytest.approx(1.0)


@pytest.mark.parametrize(
    "preds",
    [
        pytest.param([NO_PRED, NO_PRED], id="empty-arrays"),
        pytest.param([Detections(), Detections()], id="empty-detections"),
    ],
)
def test_no_predictions_score_zero(preds):
    summary = coco_map([boxes(MEDIUM), boxes(LARGE)], preds, [SIZE] * 2)
    assert summary.map50 == 0.0
    assert summary.map50_95 == 0.0
    assert summary.ap_medium == 0.0
    assert summary.ap_large == 0.0
    assert math.isnan(summary.ap_small)  # no small gun to miss
    np.testing.assert_array_equal(summary.precision_curve, 0.0)


@pytest.mark.parametrize(
    "preds",
    [
        pytest.param([NO_PRED], id="no-predictions"),
        pytest.param([pred([MEDIUM], [0.9])], id="false-alarm"),
    ],
)
def test_empty_ground_truth_is_nan(preds):
    summary = coco_map([boxes()], preds, [SIZE])
    for value in (summary.map50, summary.map50_95, summary.ap_small, summary.ap_medium, summary.ap_large):
        assert math.isnan(value)
    assert np.isnan(summary.precision_curve).all()
    assert summary.recall_points.shape == (101,)


def test_no_images_is_nan():
    assert math.isnan(coco_map([], [], []).map50)


def test_accepts_detections_objects():
    detections = Detections(boxes(MEDIUM), np.array([0.9]), np.array([0]))
    assert coco_map([boxes(MEDIUM)], [detections], [SIZE]).map50 == pytest.approx(1.0)


def test_rejects_misaligned_inputs():
    with pytest.raises(ValueError, match="length"):
        coco_map([boxes(MEDIUM)], [NO_PRED], [SIZE, SIZE])


def test_does_not_print(capsys):
    coco_map([boxes(MEDIUM)], [pred([MEDIUM], [0.9])], [SIZE])
    assert capsys.readouterr().out == ""


def random_scene(seed: int, images: int = 150):
    rng = np.random.default_rng(seed)
    gt, preds = [], []
    for _ in range(images):
        count = int(rng.integers(0, 3))
        corners = rng.uniform(0, 400, (count, 2))
        truth = np.hstack([corners, corners + rng.uniform(8, 120, (count, 2))])
        found = truth[rng.random(count) < 0.8]
        stray_corners = rng.uniform(0, 400, (int(rng.integers(0, 4)), 2))
        stray = np.hstack([stray_corners, stray_corners + rng.uniform(8, 120, stray_corners.shape)])
        shown = np.vstack([found + rng.normal(0, 6, found.shape), stray])
        # Ties on purpose: scores on a coarse grid, so the order of tied detections matters as in COCO.
        scores = np.round(rng.uniform(0, 1, len(shown)), 1)
        gt.append(truth.reshape(-1, 4))
        preds.append((shown.reshape(-1, 4), scores))
    return gt, preds, [SIZE] * images


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_ap50_from_the_matches_is_pycocotools_map50_on_any_multiset_of_the_images(seed):
    gt, preds, sizes = random_scene(seed)
    matches = coco_matches_at_50(gt, preds, sizes)
    summary = coco_map(gt, preds, sizes)
    assert ap50(matches, np.arange(len(gt))) == pytest.approx(summary.map50, abs=1e-12)
    assert ap50(summary.matches, np.arange(len(gt))) == ap50(matches, np.arange(len(gt)))  # the same evaluation's
    # A bootstrap draw: some images twice, some not at all, in a shuffled order.
    drawn = np.random.default_rng(seed + 10).choice(len(gt), len(gt))
    expected = coco_map([gt[i] for i in drawn], [preds[i] for i in drawn], [sizes[i] for i in drawn]).map50
    assert ap50(matches, drawn) == pytest.approx(expected, abs=1e-12)


def test_ap50_without_guns_is_undefined_and_without_detections_zero():
    gt = [boxes(MEDIUM), boxes()]
    matches = coco_matches_at_50(gt, [NO_PRED, pred([ELSEWHERE], [0.9])], [SIZE] * 2)
    assert math.isnan(ap50(matches, [1, 1]))
    assert ap50(matches, [0]) == 0.0
    assert ap50(matches, [0, 1]) == coco_map(gt, [NO_PRED, pred([ELSEWHERE], [0.9])], [SIZE] * 2).map50 == 0.0
