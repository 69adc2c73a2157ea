"""A wall clock for tests: `Clock(now)()` gives seconds that move only when the test sets or advances them."""

from __future__ import annotations

T0 = 1_750_000_000.0  # a whole number of microseconds, as the store keeps times


class Clock:
    def __init__(self, now: float = T0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds
