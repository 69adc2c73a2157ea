"""The outbox's workers: one thread per lane, delivering with retries and exponential backoff.

A lane is a channel (or the HTTP calls, or the commands). A receiver that hangs holds only its own lane,
for at most its timeout per attempt, so every other channel goes on at full speed. Workers are woken at
once when this process enqueues (the alert path waits for no poll), and poll the table every `poll_s`
for deliveries enqueued elsewhere (a cancel from `gunwatch event false-alarm` in another process).

An attempt that hangs all the same (`in_flight` tells since when each lane's runs) is given up by
`restart_lane`: counted as a failed attempt and retried on the outbox's schedule, while a new worker serves the
lane; the hung thread is left behind, and records only a success if it ever returns with one.
"""

from __future__ import annotations

import logging
import random
import threading
import time
from collections import deque
from collections.abc import Collection
from dataclasses import dataclass

from gunwatch.alerts.channels.base import DeliveryError
from gunwatch.alerts.message import WITHDRAWING_KINDS
from gunwatch.alerts.outbox.deliveries import Delivery
from gunwatch.alerts.outbox.executor import DeliveryExecutor
from gunwatch.alerts.outbox.outbox import Outbox
from gunwatch.config.alerts import RetrySettings
from gunwatch.events.store.errors import StoreError

log = logging.getLogger(__name__)

POLL_S = 1.0
# How long a claim holds before any worker may take the delivery over (`Outbox.claim`): longer than any
# attempt can last (timeouts are at most 300 s). A claim of a dead process on this host is taken over at
# once when a dispatcher starts (`Outbox.recover`).
CLAIM_LEASE_S = 330.0


def retry_delay(settings: RetrySettings, attempts: int, rng: random.Random) -> float:
    """The wait after failed attempt number `attempts` (1 for the first): drawn between half the ceiling and
    the ceiling, which is initial_s for the first and doubles with each attempt up to max_s.

    The floor doubles too (never below initial_s): with a floor fixed at initial_s, unlucky draws could spend
    every attempt within max_attempts * initial_s (25 s with the defaults) and give up on a short outage."""
    ceiling = max(settings.initial_s, min(settings.max_s, settings.initial_s * 2.0 ** min(attempts - 1, 60)))
    return rng.uniform(max(settings.initial_s, ceiling / 2), ceiling)


@dataclass(frozen=True)
class LaneAttempt:
    """An attempt in progress: a watchdog's view."""

    lane: str
    key: str
    since: float  # monotonic


class RateWindow:
    """Messages to one address in the last minute; over the limit, the next one waits (never dropped)."""

    def __init__(self) -> None:
        self._sent: dict[tuple[str | None, str | None], deque[float]] = {}

    def wait_s(self, delivery: Delivery, limit: int | None, now: float) -> float:
        if limit is None or delivery.kind in WITHDRAWING_KINDS:  # a cancel is never held back
            return 0.0
        sent = self._sent.setdefault((delivery.channel, delivery.address or delivery.recipient), deque())
        while sent and sent[0] <= now - 60:
            sent.popleft()
        if len(sent) >= limit:
            return sent[0] + 60 - now
        sent.append(now)
        return 0.0


class Dispatcher:
    """`start(lanes)` runs one worker per lane until `stop()`; `wake(lane)` after enqueuing."""

    def __init__(self, outbox: Outbox, executor: DeliveryExecutor, poll_s: float = POLL_S,
                 rng: random.Random | None = None, keys: Collection[str] | None = None):
        """`keys` limits the workers to those deliveries (a command delivering its own cancels must not send
        the service's other alerts, or run its commands, from an operator's terminal)."""
        self.outbox, self.executor, self.poll_s, self.keys = outbox, executor, poll_s, keys
        self._rng = rng or random.Random()
        self._stop = threading.Event()
        self._wakers: dict[str, threading.Event] = {}
        self._threads: dict[str, threading.Thread] = {}  # each lane's current worker
        self._generation: dict[str, int] = {}  # bumped by `restart_lane`: an older worker of the lane ends
        self._busy: set[tuple[str, int]] = set()  # (lane, generation) of workers in an attempt
        self._attempts: dict[str, tuple[int, Delivery, float]] = {}  # lane -> (generation, delivery, since)
        self._busy_lock = threading.Lock()

    def start(self, lanes: list[str]) -> Dispatcher:
        recovered = self.outbox.recover()
        if recovered:
            log.warning("outbox: %d deliveries a stopped process had claimed go out again", recovered)
        self.add_lanes(lanes)
        return self

    def add_lanes(self, lanes: list[str]) -> None:
        """A worker for each lane not served yet (a channel added by a reload); the others are not touched."""
        for lane in lanes:
            if lane in self._wakers:
                continue
            self._wakers[lane] = threading.Event()
            self._start_worker(lane)

    def in_flight(self) -> list[LaneAttempt]:
        """The attempts in progress, one per lane at most."""
        with self._busy_lock:
            return [LaneAttempt(lane, delivery.key, since) for lane, (_, delivery, since) in self._attempts.items()]

    def restart_lane(self, lane: str, reason: str) -> LaneAttempt | None:
        """Give up the lane's attempt in progress (hung): a failed attempt, retried on the schedule; a new worker
        serves the lane. The attempt given up, or None when the lane had none in progress."""
        with self._busy_lock:
            attempt = self._attempts.pop(lane, None)
            if attempt is None or self._stop.is_set():
                return None
            generation, delivery, since = attempt
            self._busy.discard((lane, generation))
            self._start_worker(lane)
        log.error("outbox lane %s: %s given up: %s; a new worker serves the lane", lane, delivery.key, reason)
        self._failed(delivery, reason, True)
        return LaneAttempt(lane, delivery.key, since)

    def _start_worker(self, lane: str) -> None:
        generation = self._generation[lane] = self._generation.get(lane, 0) + 1
        thread = threading.Thread(target=self._work, args=(lane, generation), name=f"outbox-{lane}", daemon=True)
        self._threads[lane] = thread
        thread.start()

    def wake(self, lane: str | None = None) -> None:
        for name, waker in self._wakers.items():
            if lane is None or name == lane:
                waker.set()

    def stop(self, timeout: float = 5.0) -> None:
        """Stop taking deliveries; an attempt in flight finishes (or times out) first, up to `timeout`."""
        self._stop.set()
        self.wake()
        deadline = time.monotonic() + timeout
        with self._busy_lock:
            threads = list(self._threads.values())
        for thread in threads:
            thread.join(max(0.0, deadline - time.monotonic()))

    def idle(self) -> bool:
        """No attempt in flight in this process and nothing due (for draining before exit).

        The table first, then the workers: a worker marks itself busy before it claims, so a delivery claimed
        before the table was read is still seen in flight. The other order misses one claimed in between."""
        now = time.time()
        if not all((due := self.outbox.next_due(lane)) is None or due > now for lane in self._wakers):
            return False
        with self._busy_lock:
            return not self._busy

    def drain(self, timeout: float) -> bool:
        """Wait until every delivery due is settled, up to `timeout`; True when it came to that."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.idle():
                return True
            time.sleep(0.05)
        return self.idle()

    # --- one lane ------------------------------------------------------------------------------------

    def _work(self, lane: str, generation: int) -> None:
        waker = self._wakers[lane]
        rates = RateWindow()
        while not self._stop.is_set() and self._generation[lane] == generation:
            try:
                if self._deliver_one(lane, generation, rates):
                    continue
                due = self.outbox.next_due(lane)
            except StoreError as error:  # the database is down: keep trying, never let the worker die
                log.error("outbox lane %s: %s", lane, error)
                due = None
            except Exception:
                log.exception("outbox lane %s: unexpected error", lane)
                due = None
            wait = self.poll_s if due is None else min(self.poll_s, max(0.0, due - time.time()))
            waker.wait(wait)
            waker.clear()

    def _deliver_one(self, lane: str, generation: int, rates: RateWindow) -> bool:
        """Claim and attempt one due delivery; False when none was due."""
        with self._busy_lock:
            self._busy.add((lane, generation))
        try:
            return self._attempt(lane, generation, rates)
        finally:
            with self._busy_lock:
                self._busy.discard((lane, generation))

    def _attempt(self, lane: str, generation: int, rates: RateWindow) -> bool:
        delivery = self.outbox.claim(lane, CLAIM_LEASE_S, keys=self.keys)
        if delivery is None:
            return False
        hold = rates.wait_s(delivery, self.executor.max_per_minute(delivery), time.time())
        if hold > 0:
            self.outbox.defer(delivery, time.time() + hold, "rate limit: too many messages to this address")
            return True
        began = time.monotonic()
        with self._busy_lock:
            self._attempts[lane] = (generation, delivery, began)
        try:
            self.executor.execute(delivery)
        except DeliveryError as error:
            if self._settles(lane, generation, delivery):
                self._failed(delivery, error.reason, error.retryable, error.may_have_arrived)
        except Exception as error:  # an adapter's bug: retried like an outage, and logged with its traceback
            log.exception("outbox: delivery %s raised", delivery.key)
            if self._settles(lane, generation, delivery):
                self._failed(delivery, f"internal error: {type(error).__name__}: {error}", True)
        else:
            # Given up meanwhile or not, it did arrive: recorded, so the retry is not sent (or is the last).
            self._settles(lane, generation, delivery)
            self.outbox.delivered(delivery, time.monotonic() - began)
        return True

    def _settles(self, lane: str, generation: int, delivery: Delivery) -> bool:
        """Whether this worker still owns its attempt (False: `restart_lane` gave it up and settled it)."""
        with self._busy_lock:
            if self._generation[lane] != generation:
                log.warning("outbox lane %s: %s returned after it was given up", lane, delivery.key)
                return False
            self._attempts.pop(lane, None)
            return True

    def _failed(self, delivery: Delivery, reason: str, retryable: bool, may_have_arrived: bool = True) -> None:
        """`may_have_arrived`: whether this attempt's outcome is unknown (a timeout, a hung lane, an adapter's
        bug): recorded, so that a withdrawal still sends a cancel (`Outbox.withdraw`)."""
        settings = self.executor.retry_settings(delivery)
        if not retryable or delivery.attempts >= settings.max_attempts:
            why = reason if not retryable else f"{reason} (gave up after {delivery.attempts} attempts)"
            log.error("outbox: %s failed for good: %s", delivery.key, why)
            self.outbox.failed(delivery, why, may_have_arrived)
            return
        delay = retry_delay(settings, delivery.attempts, self._rng)
        log.warning("outbox: %s attempt %d failed (%s); retry in %.1f s", delivery.key, delivery.attempts, reason,
                    delay)
        self.outbox.retry(delivery, reason, time.time() + delay, may_have_arrived)
