"""One thread doing one kind of slow write (a database, an evidence disk), in the order the items came.

`put` never blocks: the camera thread that calls it goes back to analysing whatever the writer is doing (a
store that hangs, a disk that is full). The queue is bounded, so a writer that stopped cannot take the
memory with it: when full, an item is refused (`put` returns False; counted, logged). Falling behind, more
than `behind_at` items waiting, is logged once, and so is catching up again; `stats` tells a watchdog how
far behind it is.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Generic, TypeVar

log = logging.getLogger(__name__)
T = TypeVar("T")


@dataclass(frozen=True)
class WriterStats:
    name: str
    waiting: int  # items not yet written (the one being written included)
    written: int  # items handled, failed ones included
    failed: int  # items whose write raised (logged)
    refused: int  # items refused because the queue was full (lost)
    oldest_s: float  # how long the oldest item not yet written has waited (0: none)
    behind: bool


class WriteQueue(Generic[T]):
    def __init__(self, name: str, write: Callable[[T], None], capacity: int, behind_at: int | None = None,
                 clock: Callable[[], float] = time.monotonic) -> None:
        if capacity < 1:
            raise ValueError(f"{name}: capacity must be >= 1, got {capacity}")
        self.name, self._write, self.capacity = name, write, capacity
        self.behind_at = behind_at if behind_at is not None else max(1, capacity // 2)
        self._clock = clock
        self._items: deque[tuple[float, T]] = deque()
        self._changed = threading.Condition()  # guards everything below; wakes the writer and `wait_idle`
        self._writing: float | None = None  # when the item being written was put
        self._written = self._failed = self._refused = 0
        self._behind = False
        self._closing = False
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)

    def start(self) -> WriteQueue[T]:
        self._thread.start()
        return self

    def put(self, item: T) -> bool:
        """Queue `item` for writing; False (and logged) when the queue is full or closed."""
        with self._changed:
            reason = "closed" if self._closing else f"{self.capacity} writes waiting"
            if self._closing or len(self._items) >= self.capacity:
                self._refused += 1
                refused = self._refused
            else:
                self._items.append((self._clock(), item))
                self._changed.notify_all()
                refused = 0
                if not self._behind and len(self._items) >= self.behind_at:
                    self._behind = True
                    log.warning("%s: falling behind, %d writes waiting", self.name, len(self._items))
        if refused:
            log.error("%s: %s; a write was refused (%d so far)", self.name, reason, refused)
        return not refused

    def stats(self) -> WriterStats:
        with self._changed:
            times = [put for put, _ in self._items] + ([self._writing] if self._writing is not None else [])
            oldest = self._clock() - min(times) if times else 0.0
            waiting = len(self._items) + (self._writing is not None)
            return WriterStats(self.name, waiting, self._written, self._failed, self._refused, oldest, self._behind)

    def wait_idle(self, timeout: float | None = None) -> bool:
        """Whether everything put so far was written within `timeout` seconds."""
        with self._changed:
            return self._changed.wait_for(lambda: not self._items and self._writing is None, timeout)

    def close(self, timeout: float | None = None) -> bool:
        """Write what is queued (up to `timeout` seconds), then stop; False, and logged, when some was left."""
        with self._changed:
            self._closing = True
            self._changed.notify_all()
        if self._thread.is_alive():
            self._thread.join(timeout)
        if self._thread.is_alive():
            log.error("%s: %d writes not done at exit", self.name, self.stats().waiting)
            return False
        return True

    def _run(self) -> None:
        while True:
            with self._changed:
                self._changed.wait_for(lambda: self._items or self._closing)
                if not self._items:
                    return
                self._writing, item = self._items.popleft()
            try:
                self._write(item)
                failed = False
            except Exception:  # logged; the writer goes on with the next item
                log.exception("%s: a write failed", self.name)
                failed = True
            with self._changed:
                self._writing = None
                self._written += 1
                self._failed += failed
                if self._behind and len(self._items) < max(1, self.behind_at // 2):
                    self._behind = False
                    log.warning("%s: caught up, %d writes waiting", self.name, len(self._items))
                self._changed.notify_all()


def guarded(call: Callable[..., object], *args: object) -> None:
    """Call a listener or a store; its failure is logged, never allowed to stop the thread that called it."""
    try:
        call(*args)
    except Exception:
        log.exception("%s failed", getattr(call, "__name__", call))
