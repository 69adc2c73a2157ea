"""The sign-in rate limit: after `attempts` failed sign-ins within `window_s`, further tries are refused.

Failures count per (user, address), so one user's guesser is stopped, and per address over all user names,
so one address cannot walk a list of names; the per-address limit is higher (`address_attempts`, by default
four times `attempts`) because a school office or a control room often signs in from behind one address.

A success clears the failures of that user from that address only: the address's count stays, or a guesser
holding one valid account could reset it between guesses. The counts live in memory: a restart forgets them.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable

# Beyond this many remembered keys, the next failure first forgets the ones whose window has passed.
_PRUNE_ABOVE = 10_000


class LoginLimiter:
    """Safe to share between threads. `clock` gives monotonic seconds (tests pass their own)."""

    def __init__(self, attempts: int, window_s: float, clock: Callable[[], float] = time.monotonic,
                 address_attempts: int | None = None):
        if attempts < 1 or window_s <= 0:
            raise ValueError(f"attempts must be >= 1 and window_s > 0, not {attempts} and {window_s}")
        self.attempts = attempts
        self.address_attempts = address_attempts or 4 * attempts
        self.window_s = window_s
        self.clock = clock
        self._failures: dict[tuple[str, ...], deque[float]] = {}
        self._lock = threading.Lock()

    def allowed(self, user: str, address: str) -> bool:
        """Whether a sign-in of `user` from `address` may be tried now (ask before checking the password)."""
        now = self.clock()
        with self._lock:
            return (self._count(("user", user, address), now) < self.attempts
                    and self._count(("address", address), now) < self.address_attempts)

    def retry_after(self, user: str, address: str) -> float:
        """Seconds until `allowed` turns true again (0 when it is)."""
        now = self.clock()
        with self._lock:
            waits = [self._wait(("user", user, address), self.attempts, now),
                     self._wait(("address", address), self.address_attempts, now)]
        return max(waits)

    def failed(self, user: str, address: str) -> None:
        now = self.clock()
        with self._lock:
            if len(self._failures) > _PRUNE_ABOVE:
                self._prune(now)
            for key in (("user", user, address), ("address", address)):
                self._failures.setdefault(key, deque()).append(now)

    def succeeded(self, user: str, address: str) -> None:
        with self._lock:
            self._failures.pop(("user", user, address), None)

    def _count(self, key: tuple[str, ...], now: float) -> int:
        times = self._failures.get(key)
        if times is None:
            return 0
        while times and times[0] <= now - self.window_s:
            times.popleft()
        if not times:
            del self._failures[key]
            return 0
        return len(times)

    def _wait(self, key: tuple[str, ...], limit: int, now: float) -> float:
        count = self._count(key, now)
        if count < limit:
            return 0.0
        # The oldest failure that keeps the count at the limit must leave the window.
        times = self._failures[key]
        return times[count - limit] + self.window_s - now

    def _prune(self, now: float) -> None:
        for key in list(self._failures):
            self._count(key, now)
