"""Several calls timed against each other in interleaved rounds, so the machine's drift falls on all alike."""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable, Hashable
from typing import TypeVar

Name = TypeVar("Name", bound=Hashable)


def interleaved_median_ms(calls: dict[Name, Callable[[], object]], rounds: int, warmup: int) -> dict[Name, float]:
    """Median ms of each call over `rounds` rounds of one call each, after `warmup` such rounds untimed."""
    times: dict[Name, list[float]] = {name: [] for name in calls}
    for round_ in range(warmup + rounds):
        for name, call in calls.items():
            start = time.perf_counter()
            call()
            if round_ >= warmup:
                times[name].append(1000 * (time.perf_counter() - start))
    return {name: statistics.median(values) for name, values in times.items()}
