import pytest

from gunwatch.metrics.worst import WorstCases, select_worst
from support.arrays import NO_PRED, boxes, pred

A = [0, 0, 10, 10]
FAR = [100, 100, 110, 110]



GT = [boxes(A), boxes(A), boxes(A), boxes(A), boxes(A, FAR), boxes(), boxes(), boxes(), boxes()]
PREDS = [
    pred([A], [0.9]),  # 0: found, never listed
    pred([[5, 0, 15, 10]], [0.9]),  # 1: poorly localised, best IoU 1/3
    NO_PRED,  # 2: nothing at all, best IoU 0
    pred([A], [0.2]),  # 3: found only below the threshold, so best IoU 0
    pred([A], [0.9]),  # 4: one of two guns missed: worst 0, mean 0.5
    pred([A], [0.6]),  # 5: false alarm at .6
    pred([A, FAR], [0.95, 0.1]),  # 6: false alarm at .95
    pred([A], [0.3]),  # 7: below the threshold: no alarm
    NO_PRED,  # 8: quiet
]


@pytest.mark.parametrize(
    ("n", "misses", "false_alarms"),
    [
        (8, (2, 3, 4, 1), (6, 5)),  # ties at IoU 0 broken by mean IoU, then index
        (2, (2, 3), (6, 5)),
        (1, (2,), (6,)),
        (0, (), ()),
    ],
)
def test_select_worst(n, misses, false_alarms):
    assert select_worst(GT, PREDS, threshold=0.5, n=n) == WorstCases(misses, false_alarms)


def test_select_worst_unpacks_and_respects_iou_threshold():
    misses, alarms = select_worst(GT, PREDS, threshold=0.5, iou_threshold=0.3)
    assert misses == (2, 3, 4)  # IoU 1/3 is good enough at 0.3
    assert alarms == (6, 5)


def test_select_worst_lower_threshold_turns_more_images_into_alarms():
    worst = select_worst(GT, PREDS, threshold=0.15)
    assert worst.false_alarms == (6, 5, 7)
    assert 3 not in worst.misses  # its 0.2 box now counts


def test_select_worst_rejects_misaligned_inputs():
    with pytest.raises(ValueError, match="length"):
        select_worst(GT, PREDS[:-1], threshold=0.5)
