"""Box geometry shared by the runtime and the metrics (IoU itself is tested in tests/metrics/test_iou.py)."""

from __future__ import annotations

import numpy as np
import pytest

from gunwatch.boxes import box_area, box_ios


def test_ios_is_one_for_a_box_inside_another() -> None:
    outer = np.array([[0, 0, 100, 100]])
    inner = np.array([[10, 10, 20, 30]])
    assert box_ios(outer, inner)[0, 0] == pytest.approx(1.0)
    assert box_ios(inner, outer)[0, 0] == pytest.approx(1.0)


def test_ios_hand_case_and_disjoint_and_degenerate() -> None:
    a = np.array([[0, 0, 10, 10]])
    b = np.array([[5, 0, 25, 10], [50, 50, 60, 60], [3, 3, 3, 3]])
    np.testing.assert_allclose(box_ios(a, b)[0], [50 / 100, 0.0, 0.0])


def test_area_of_an_inverted_box_is_zero() -> None:
    np.testing.assert_allclose(box_area(np.array([[10.0, 10, 0, 0], [0, 0, 2, 3]])), [0, 6])
