"""Exponential backoff with full jitter between reconnect attempts."""

from __future__ import annotations

import random

import pytest

from gunwatch.video.sources.backoff import Backoff


def test_waits_grow_exponentially_within_the_bounds():
    backoff = Backoff(1.0, 8.0, random.Random(0))
    waits = [backoff.next_wait() for _ in range(200)]
    assert waits[0] == 1.0  # the first ceiling is initial_s itself
    for attempt, wait in enumerate(waits):
        assert 1.0 <= wait <= min(8.0, 2.0**attempt)
    assert max(waits[3:]) > 6.0  # the cap is reached ...
    assert len({round(w, 6) for w in waits[3:]}) > 100  # ... with jitter, not in step


def test_reset_starts_again_from_the_initial_wait():
    backoff = Backoff(0.5, 30.0, random.Random(1))
    for _ in range(10):
        backoff.next_wait()
    backoff.reset()
    assert backoff.next_wait() == 0.5


@pytest.mark.parametrize(("initial", "maximum"), [(0.0, 1.0), (2.0, 1.0)])
def test_bad_bounds_are_refused(initial: float, maximum: float):
    with pytest.raises(ValueError, match="initial_s"):
        Backoff(initial, maximum)
