import math

import numpy as np
import pytest

from gunwatch.metrics.iou import best_iou_per_gt, box_iou, mean_best_iou

UNIT = [0, 0, 10, 10]  # area 100


@pytest.mark.parametrize(
    ("a", "b", "expected"),
    [
        pytest.param(UNIT, UNIT, 1.0, id="identical"),
        pytest.param(UNIT, [20, 20, 30, 30], 0.0, id="disjoint"),
        # overlap 5x10 = 50, union 100 + 100 - 50 = 150
        pytest.param(UNIT, [5, 0, 15, 10], 50 / 150, id="half-overlap"),
        # inner 5x5 = 25 lies inside: 25 / 100
        pytest.param(UNIT, [2, 2, 7, 7], 25 / 100, id="contained"),
        pytest.param(UNIT, [10, 0, 20, 10], 0.0, id="touching-edge"),
        pytest.param(UNIT, [10, 10, 20, 20], 0.0, id="touching-corner"),
        # overlap 5x5 = 25, union 175
        pytest.param(UNIT, [5, 5, 15, 15], 25 / 175, id="quarter-corner"),
        pytest.param([5, 5, 5, 5], UNIT, 0.0, id="zero-area-inside"),
        pytest.param([5, 5, 5, 5], [5, 5, 5, 5], 0.0, id="zero-area-both"),
        pytest.param([0, 0, 0, 10], [0, 0, 0, 10], 0.0, id="zero-width-line"),
    ],
)
def test_box_iou_hand_cases(a, b, expected):
    iou = box_iou(np.array([a], np.float32), np.array([b], np.float32))
    assert iou.shape == (1, 1)
    assert iou[0, 0] == pytest.approx(expected)
    assert box_iou(np.array([b]), np.array([a]))[0, 0] == pytest.approx(expected)  # symmetric


def test_box_iou_is_pairwise_and_shapes():
    a = np.array([UNIT, [5, 0, 15, 10]])
    b = np.array([UNIT, [20, 20, 30, 30], [2, 2, 7, 7]])
    expected = np.array([[1.0, 0.0, 0.25], [1 / 3, 0.0, 10 / 115]])  # [5,0,15,10]∩[2,2,7,7] = 2x5
    np.testing.assert_allclose(box_iou(a, b), expected)
    assert box_iou(np.zeros((0, 4)), b).shape == (0, 3)
    assert box_iou(a, np.zeros((0, 4))).shape == (2, 0)


def test_box_iou_never_nan():
    rng = np.random.default_rng(0)
    corners = rng.integers(0, 5, size=(50, 2)).repeat(2, axis=1)[:, [0, 2, 1, 3]]  # many zero-area boxes
    assert not np.isnan(box_iou(corners, corners)).any()


@pytest.mark.parametrize(
    ("gt", "pred", "expected"),
    [
        pytest.param([UNIT], [UNIT, [5, 0, 15, 10]], [1.0], id="best-of-two"),
        pytest.param([UNIT, [20, 20, 30, 30]], [[5, 0, 15, 10]], [1 / 3, 0.0], id="one-unfound"),
        pytest.param([UNIT], np.zeros((0, 4)), [0.0], id="no-predictions"),
        pytest.param(np.zeros((0, 4)), [UNIT], [], id="no-gt"),
    ],
)
def test_best_iou_per_gt(gt, pred, expected):
    np.testing.assert_allclose(best_iou_per_gt(np.array(gt), np.array(pred)), expected)


def test_mean_best_iou_averages_over_all_gt_boxes():
    gt = [np.array([UNIT]), np.array([UNIT, [20, 20, 30, 30]]), np.array([UNIT]), np.zeros((0, 4))]
    pred = [
        np.array([UNIT, [5, 0, 15, 10]]),  # best 1.0
        np.array([[5, 0, 15, 10]]),  # 1/3 for the first gun, 0 for the second
        np.zeros((0, 4)),  # gun image without predictions: 0
        np.array([UNIT]),  # gun-free image: ignored
    ]
    # (1 + 1/3 + 0 + 0) / 4 GT boxes
    assert mean_best_iou(gt, pred) == pytest.approx((1 + 1 / 3) / 4)


@pytest.mark.parametrize(
    ("gt", "pred"),
    [
        pytest.param([], [], id="no-images"),
        pytest.param([np.zeros((0, 4))], [np.array([UNIT])], id="gun-free-only"),
    ],
)
def test_mean_best_iou_without_gt_is_nan(gt, pred):
    assert math.isnan(mean_best_iou(gt, pred))


def test_mean_best_iou_rejects_misaligned_inputs():
    with pytest.raises(ValueError, match="length"):
        mean_best_iou([np.array([UNIT])], [])


def _notebook_iou(box1: list[float], box2: list[float]) -> float:
    """The course notebook's mistake, for contrast only: (x1, y1, x2, y2) read as (x, y, w, h)."""
    (xa, ya, wa, ha), (xb, yb, wb, hb) = box1, box2
    return float(box_iou(np.array([[xa, ya, xa + wa, ya + ha]]), np.array([[xb, yb, xb + wb, yb + hb]]))[0, 0])


def test_notebook_width_as_corner_mistake_gives_a_different_number():
    gt, pred = [10, 10, 20, 20], [12, 10, 22, 20]
    # Right: overlap 8x10 = 80, union 100 + 100 - 80 = 120 -> 2/3.
    assert mean_best_iou([np.array([gt])], [np.array([pred])]) == pytest.approx(2 / 3)
    # Notebook: boxes become [10,10,30,30] and [12,10,34,30]: overlap 18x20 = 360,
    # union 400 + 440 - 360 = 480 -> 0.75, flattering the detector because the boxes grew.
    assert _notebook_iou(gt, pred) == pytest.approx(0.75)
