"""Waits between attempts to reach a camera: exponential, capped, with full jitter."""

from __future__ import annotations

import random


class Backoff:
    """The n-th wait is drawn uniformly from [initial_s, min(max_s, initial_s * 2**n)].

    Full jitter: cameras that failed together (a switch rebooting) spread their retries instead of
    hammering the network in step. The floor of initial_s keeps a refusing camera from being retried in a
    tight loop.
    """

    def __init__(self, initial_s: float, max_s: float, rng: random.Random | None = None) -> None:
        if not 0 < initial_s <= max_s:
            raise ValueError(f"need 0 < initial_s <= max_s, got {initial_s:g} and {max_s:g}")
        self.initial_s = initial_s
        self.max_s = max_s
        self._rng = rng or random.Random()
        self._failures = 0

    def next_wait(self) -> float:
        ceiling = min(self.max_s, self.initial_s * 2.0 ** min(self._failures, 60))
        self._failures += 1
        return self._rng.uniform(self.initial_s, ceiling)

    def reset(self) -> None:
        """After a frame arrived: the next failure waits initial_s again."""
        self._failures = 0
