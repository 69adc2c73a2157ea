import math

import numpy as np
import pytest

from gunwatch.inference.detections import Detections
from gunwatch.metrics.operating import (
    OperatingPoint,
    image_rates_curve,
    image_recall_at_fpr,
    operating_point,
    pr_curve,
    threshold_for_image_fpr,
)
from support.arrays import NO_PRED, boxes, pred

A = [0, 0, 10, 10]
NEAR_A = [1, 0, 11, 10]  # IoU with A: 90 / 110 = 0.818
B = [20, 20, 40, 40]
NEAR_B = [22, 20, 42, 40]  # IoU with B: 360 / 440 = 0.818
C = [50, 50, 60, 60]
FAR = [100, 100, 110, 110]



# Three gun images (4 guns) and three gun-free images.
GT = [boxes(A), boxes(B, C), boxes(A), boxes(), boxes(), boxes()]
PREDS = [
    pred([A, NEAR_A], [0.9, 0.8]),  # TP, then a duplicate on the same gun
    pred([NEAR_B, FAR], [0.6, 0.3]),  # TP on B, FP far away; C is missed
    NO_PRED,  # gun missed entirely
    pred([A, B], [0.7, 0.4]),  # false alarms
    pred([A], [0.2]),
    NO_PRED,
]
NAN = float("nan")


@pytest.mark.parametrize(
    ("threshold", "expected"),
    [
        # kept: .9 TP, .8 duplicate FP, .6 TP, .7 FP on a gun-free image. FN: C and image 2's gun.
        # P = 2/4, R = 2/4, F1 = 2*2 / (2*2 + 2 + 2) = 1/2; gun images flagged 2/3; gun-free flagged 1/3.
        (0.5, OperatingPoint(0.5, 0.5, 0.5, 2 / 3, 1 / 3, 1 / 3, 2, 2, 2, 3, 3)),
        # adds .4 and .3: both FP. P = 2/6, F1 = 4 / (4 + 4 + 2); image 3 now has 2 passing boxes.
        (0.25, OperatingPoint(2 / 6, 0.5, 4 / 10, 2 / 3, 1 / 3, 2 / 3, 2, 4, 2, 3, 3)),
        # adds .2 on image 4: a second gun-free image alarms. F1 = 4 / (4 + 5 + 2).
        (0.1, OperatingPoint(2 / 7, 0.5, 4 / 11, 2 / 3, 2 / 3, 3 / 3, 2, 5, 2, 3, 3)),
        # nothing passes: precision undefined (NaN), recall and F1 zero, no alarms anywhere.
        (0.95, OperatingPoint(NAN, 0.0, 0.0, 0.0, 0.0, 0.0, 0, 0, 4, 3, 3)),
    ],
)
def test_operating_point_hand_cases(threshold, expected):
    _assert_same(operating_point(GT, PREDS, threshold), expected)


def _assert_same(got: OperatingPoint, expected: OperatingPoint) -> None:
    for name, want in vars(expected).items():
        value = getattr(got, name)
        if isinstance(want, float) and math.isnan(want):
            assert math.isnan(value), name
        else:
            assert value == pytest.approx(want), name


@pytest.mark.parametrize(
    ("gt", "preds", "tp", "fp", "fn"),
    [
        pytest.param([boxes(A)], [pred([A, A], [0.9, 0.8])], 1, 1, 0, id="duplicate-is-fp"),
        # Greedy by score, not by IoU: the 0.9 box (IoU .818) claims the gun; the exact 0.8 box is an FP.
        pytest.param([boxes(A)], [pred([NEAR_A, A], [0.9, 0.8])], 1, 1, 0, id="score-order-wins"),
        # Each prediction takes the unclaimed gun it overlaps most, so two guns, two boxes: both TP.
        pytest.param([boxes(A, NEAR_A)], [pred([A, NEAR_A], [0.8, 0.9])], 2, 0, 0, id="best-unclaimed-gun"),
        pytest.param([boxes(A)], [pred([[5, 0, 15, 10]], [0.9])], 0, 1, 1, id="iou-below-threshold"),
        pytest.param([boxes(A)], [NO_PRED], 0, 0, 1, id="no-predictions"),
    ],
)
def test_matching(gt, preds, tp, fp, fn):
    point = operating_point(gt, preds, threshold=0.5)
    assert (point.true_positives, point.false_positives, point.false_negatives) == (tp, fp, fn)


def test_iou_threshold_is_respected():
    strict = operating_point([boxes(A)], [pred([NEAR_A], [0.9])], threshold=0.5, iou_threshold=0.9)
    assert (strict.true_positives, strict.false_positives) == (0, 1)


def test_without_gun_free_images_image_rates_are_nan():
    point = operating_point([boxes(A)], [pred([A], [0.9])], threshold=0.5)
    assert point.precision == point.recall == point.f1 == point.image_recall == 1.0
    assert math.isnan(point.image_fpr)
    assert math.isnan(point.fp_per_negative_image)


def test_without_anything_everything_is_nan():
    point = operating_point([boxes()], [NO_PRED], threshold=0.5)
    assert all(math.isnan(v) for v in (point.precision, point.recall, point.f1, point.image_recall))
    assert point.image_fpr == point.fp_per_negative_image == 0.0


def test_float32_scores_compare_like_detections_above():
    detections = Detections(boxes(A), np.array([0.7], np.float32), np.array([0]))
    assert len(detections.above(0.7)) == 1
    assert operating_point([boxes(A)], [detections], threshold=0.7).true_positives == 1


def test_pr_curve_hand_values_and_agreement_with_operating_point():
    thresholds, precision, recall = pr_curve(GT, PREDS)
    np.testing.assert_allclose(thresholds, [0.9, 0.8, 0.7, 0.6, 0.4, 0.3, 0.2], rtol=1e-6)
    # TP/FP by rank: T F F T F F F over 4 guns.
    np.testing.assert_allclose(precision, [1, 1 / 2, 1 / 3, 2 / 4, 2 / 5, 2 / 6, 2 / 7])
    np.testing.assert_allclose(recall, [0.25, 0.25, 0.25, 0.5, 0.5, 0.5, 0.5])
    for t, p, r in zip(thresholds, precision, recall, strict=True):
        point = operating_point(GT, PREDS, float(t))
        assert (point.precision, point.recall) == pytest.approx((p, r))


def test_pr_curve_ties_form_one_point():
    thresholds, precision, recall = pr_curve([boxes(A, B)], [pred([A, FAR, B], [0.5, 0.5, 0.5])])
    assert len(thresholds) == 1
    assert (precision[0], recall[0]) == pytest.approx((2 / 3, 1.0))


def test_pr_curve_edge_cases():
    assert all(len(a) == 0 for a in pr_curve([boxes(A)], [NO_PRED]))
    _, precision, recall = pr_curve([boxes()], [pred([A], [0.9])])
    assert precision[0] == 0.0
    assert math.isnan(recall[0])


# Gun-free images' max scores: .9, .7, .7, .3 and one image without predictions (5 negatives).
FPR_PREDS = [
    pred([A, B], [0.9, 0.1]),
    pred([A], [0.7]),
    pred([B], [0.7]),
    pred([A], [0.3]),
    NO_PRED,
    pred([A], [0.99]),  # a gun image: its score is irrelevant
]
FPR_NEGATIVES = [True, True, True, True, True, False]


@pytest.mark.parametrize(
    ("max_fpr", "must_exceed", "alarming"),
    [
        (0.0, 0.9, 0),  # no false alarm allowed: just above the top gun-free score
        (0.2, 0.7, 1),  # one of five may alarm: the .9 image
        (0.4, 0.7, 1),  # two may, but the two .7 images pass or fail together, so only one
        (0.6, 0.3, 3),
        (0.7, 0.3, 3),
    ],
)
def test_threshold_for_image_fpr(max_fpr, must_exceed, alarming):
    threshold = threshold_for_image_fpr(FPR_PREDS, FPR_NEGATIVES, max_fpr)
    assert threshold > np.float32(must_exceed)
    assert threshold == pytest.approx(must_exceed)
    # It is the lowest: one float32 step lower lets the next gun-free image alarm.
    lower = float(np.nextafter(np.float32(threshold), np.float32(0)))
    assert _image_fpr(threshold) == alarming / 5 <= max_fpr
    assert _image_fpr(lower) > max_fpr


def _image_fpr(threshold: float) -> float:
    gt = [boxes() if negative else boxes(A) for negative in FPR_NEGATIVES]
    return operating_point(gt, FPR_PREDS, threshold).image_fpr


def test_threshold_for_image_fpr_unconstrained_is_zero():
    assert threshold_for_image_fpr(FPR_PREDS, FPR_NEGATIVES, 0.8) == 0.0
    assert threshold_for_image_fpr(FPR_PREDS, FPR_NEGATIVES, 1.0) == 0.0


def test_threshold_for_image_fpr_counts_exactly():
    # 0.29 * 100 is 28.999... in floating point; 29 of 100 images is still within a 0.29 budget.
    preds = [pred([A], [i / 100]) for i in range(1, 101)]
    threshold = threshold_for_image_fpr(preds, [True] * 100, 0.29)
    alarming = sum(float(scores.max()) >= threshold for _, scores in preds)
    assert alarming == 29


@pytest.mark.parametrize(
    ("negatives", "max_fpr"),
    [
        pytest.param([False] * 6, 0.1, id="no-gun-free-images"),
        pytest.param(FPR_NEGATIVES, -0.1, id="negative-budget"),
        pytest.param([True], 0.1, id="misaligned"),
    ],
)
def test_threshold_for_image_fpr_rejects_bad_input(negatives, max_fpr):
    with pytest.raises(ValueError):
        threshold_for_image_fpr(FPR_PREDS, negatives, max_fpr)


# Four gun images (top scores .95, .6, .5 and none) and five gun-free ones (.9, .55, .5, .1 and none). An
# image's top score is any of its boxes', on the gun or not: an alarm is raised per image.
RANKED_GT = [boxes(A)] * 4 + [boxes()] * 5
RANKED_PREDS = [pred([A], [0.95]), pred([FAR, A], [0.6, 0.3]), pred([A], [0.5]), NO_PRED,
                pred([B], [0.9]), pred([B, C], [0.2, 0.55]), pred([B], [0.5]), pred([B], [0.1]), NO_PRED]


@pytest.mark.parametrize(
    ("max_fpr", "recall"),
    [
        (0.0, 1 / 4),  # no gun-free image may alarm: only the .95 gun image lies above the .9 one
        (0.2, 2 / 4),  # one may (.9): above .55, the .95 and .6 gun images
        (0.4, 2 / 4),  # two may (.9, .55): the gun image at .5 ties a third gun-free one, so it stays out
        (0.6, 3 / 4),  # three may (.9, .55, .5): the gun image at .5 alarms with its tie
        (1.0, 3 / 4),  # every image with a score alarms; the gun image without one never does
    ],
)
def test_image_recall_at_fpr_is_the_recall_at_the_lowest_threshold_within_the_budget(max_fpr, recall):
    assert image_recall_at_fpr(RANKED_GT, RANKED_PREDS, max_fpr) == recall


def test_image_recall_at_fpr_is_undefined_without_both_kinds_of_image():
    assert math.isnan(image_recall_at_fpr(RANKED_GT[:4], RANKED_PREDS[:4], 0.02))
    assert math.isnan(image_recall_at_fpr(RANKED_GT[4:], RANKED_PREDS[4:], 0.02))


def test_image_rates_curve_gives_each_top_scores_operating_point():
    thresholds, fpr, recall = image_rates_curve(RANKED_GT, RANKED_PREDS)
    assert thresholds.tolist() == pytest.approx([0.95, 0.9, 0.6, 0.55, 0.5, 0.1])
    assert fpr.tolist() == pytest.approx([0, 1 / 5, 1 / 5, 2 / 5, 3 / 5, 4 / 5])
    assert recall.tolist() == pytest.approx([1 / 4, 1 / 4, 2 / 4, 2 / 4, 3 / 4, 3 / 4])
    for threshold, rate, found in zip(thresholds, fpr, recall, strict=True):  # what operating_point says there
        point = operating_point(RANKED_GT, RANKED_PREDS, float(threshold))
        assert (point.image_fpr, point.image_recall) == pytest.approx((rate, found))


def test_image_rates_curve_is_empty_without_predictions_and_nan_without_a_kind():
    assert [len(a) for a in image_rates_curve(RANKED_GT, [NO_PRED] * 9)] == [0, 0, 0]
    _, fpr, recall = image_rates_curve(RANKED_GT[:4], RANKED_PREDS[:4])
    assert np.isnan(fpr).all() and recall.tolist() == pytest.approx([1 / 4, 2 / 4, 3 / 4])
