"""Exact intervals for small counts, checked against their closed forms."""

from __future__ import annotations

import math

import pytest

from gunwatch.metrics.intervals import exposure_to_show, interval_text, proportion_interval, rate_interval


def test_all_or_none_of_n_trials_has_the_closed_form_clopper_pearson_bounds():
    # At the edges the exact interval is (alpha / 2) ** (1 / n) away from the observed share.
    low, high = proportion_interval(7, 7)
    assert (low, high) == (pytest.approx(0.025 ** (1 / 7)), 1.0)
    low, high = proportion_interval(0, 150)
    assert (low, high) == (0.0, pytest.approx(1 - 0.025 ** (1 / 150)))


def test_a_share_lies_inside_its_interval_which_narrows_with_more_trials():
    small = proportion_interval(3, 10)
    large = proportion_interval(300, 1000)
    assert small[0] < 0.3 < small[1] and large[0] < 0.3 < large[1]
    assert large[1] - large[0] < small[1] - small[0]
    assert proportion_interval(3, 10, confidence=0.5)[1] < small[1]  # less confidence, narrower


def test_no_trials_is_undefined_and_impossible_counts_are_refused():
    assert all(math.isnan(v) for v in proportion_interval(0, 0))
    with pytest.raises(ValueError, match="successes <= trials"):
        proportion_interval(8, 7)
    with pytest.raises(ValueError, match="confidence"):
        proportion_interval(1, 2, confidence=1.0)


def test_no_event_still_bounds_a_rate_from_above():
    # Garwood's upper bound for zero events is -ln(alpha / 2) per unit of exposure.
    low, high = rate_interval(0, 8.8 / 60)
    assert low == 0.0
    assert high == pytest.approx(-math.log(0.025) / (8.8 / 60))  # about 25 per camera-hour
    assert exposure_to_show(0.1) == pytest.approx(-math.log(0.025) / 0.1)  # about 37 camera-hours


def test_a_rate_lies_inside_its_interval_and_exposure_scales_it():
    low, high = rate_interval(4, 2.0)
    assert low < 2.0 < high
    assert rate_interval(4, 4.0) == pytest.approx((low / 2, high / 2))
    assert all(math.isnan(v) for v in rate_interval(1, 0.0))
    with pytest.raises(ValueError, match="events"):
        rate_interval(-1, 1.0)
    with pytest.raises(ValueError, match="rate"):
        exposure_to_show(0.0)


def test_an_interval_reads_low_to_high_and_says_when_an_end_is_undefined():
    assert interval_text((0.12345, 0.9)) == "0.123-0.900"
    assert interval_text([None, 0.5]) == "n/a"  # a JSON report's null
    assert interval_text((math.nan, 0.5), missing="-") == "-"  # a table's NaN
