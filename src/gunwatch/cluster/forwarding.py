"""Events and health changes to the alerts actor (a node agent's, and the supervisor's): in order, each sent
again until acknowledged.

The alerts actor acknowledges an item only once its alert thread has handled it (its protocol runs are in the
store), and handling is idempotent (a protocol starts once per event), so an item sent twice does no harm and
an item is never dropped: while the actor restarts (Ray restarts it, its state is the store's) the items wait
here, the oldest first. The queue is bounded: when it is full the writer thread that hands items over waits
(the store writer behind it queues on), which only happens when the alerts actor is gone for long.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Callable
from typing import Any

log = logging.getLogger(__name__)

CAPACITY = 10_000
RETRY_FIRST_S, RETRY_MAX_S = 0.2, 5.0
FORWARD_TIMEOUT_S = 30.0  # one hand-over to the alerts actor; it waits up to its own HANDLE_WAIT_S


def alerts_sender(name: str, namespace: str) -> Callable[[object], bool]:
    """`send(item) -> bool` for a Forwarder: the named alerts actor's `handle`, looked up again when lost."""
    import ray

    handles: list[Any] = []

    def send(item: object) -> bool:
        if not handles:
            handles.append(ray.get_actor(name, namespace=namespace))
        try:
            return bool(ray.get(handles[0].handle.remote(item), timeout=FORWARD_TIMEOUT_S))
        except ray.exceptions.RayActorError:
            handles.clear()  # dead for good (not restarting): look it up again next time
            raise

    return send


class Forwarder:
    def __init__(self, send: Callable[[object], bool], capacity: int = CAPACITY,
                 retry_first_s: float = RETRY_FIRST_S, retry_max_s: float = RETRY_MAX_S) -> None:
        """`send(item)`: True once the receiver has handled it; False or an exception: sent again later."""
        self.send, self.capacity = send, capacity
        self.retry_first_s, self.retry_max_s = retry_first_s, retry_max_s
        self.sent = 0
        self._items: deque[tuple[float, object]] = deque()  # (when it was put, the item), oldest first
        self._changed = threading.Condition()
        self._stopping = False
        self._thread = threading.Thread(target=self._run, name="forward-alerts", daemon=True)

    def start(self) -> Forwarder:
        self._thread.start()
        return self

    def put(self, item: object) -> None:
        """From any thread; waits only while the queue is full."""
        with self._changed:
            told = False
            while len(self._items) >= self.capacity and not self._stopping:
                if not told:
                    told = True
                    log.error("alerts: %d items wait for the alerts actor; the pipeline waits for room", self.capacity)
                self._changed.wait(1.0)
            self._items.append((time.time(), item))
            self._changed.notify_all()

    @property
    def pending(self) -> int:
        with self._changed:
            return len(self._items)

    @property
    def waiting_since(self) -> float | None:
        """When the oldest item still waiting was put (wall clock); None when nothing waits."""
        with self._changed:
            return self._items[0][0] if self._items else None

    def close(self, drain_s: float) -> bool:
        """Send what is queued for up to `drain_s`; True when nothing was left."""
        with self._changed:
            self._changed.wait_for(lambda: not self._items, drain_s)
            self._stopping = True
            self._changed.notify_all()
            left = len(self._items)
        self._thread.join(self.retry_max_s + 1)
        if left:
            log.error("alerts: %d items not handed to the alerts actor at exit", left)
        return left == 0

    def _run(self) -> None:
        delay = self.retry_first_s
        while True:
            with self._changed:
                self._changed.wait_for(lambda: self._items or self._stopping)
                if self._stopping:
                    return
                _, item = self._items[0]
            try:
                done = self.send(item)
            except Exception as error:  # the actor restarting, its node gone: sent again
                log.warning("alerts: not handed over yet (%s: %s); again in %.1f s", type(error).__name__, error, delay)
                done = False
            if done:
                with self._changed:
                    self._items.popleft()
                    self.sent += 1
                    self._changed.notify_all()
                delay = self.retry_first_s
                continue
            with self._changed:
                self._changed.wait(delay)
            delay = min(self.retry_max_s, delay * 2)
