"""The outbox's retry schedule over time: which wait follows which failed attempt, the doubling, the cap, and
how long a receiver may stay down before a delivery is given up.

The dispatcher's workers run for real against a real HTTP receiver that is down (connection refused), but
read a clock the test moves: each retry is made due by moving the clock to the time the outbox stored for
it, so hours of backoff take no time and nothing depends on the machine's speed. The jitter comes from the
dispatcher's own `rng`, pinned here to either end of each draw.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterator
from typing import Literal

import pytest

from gunwatch.alerts.channels.webhook import WebhookChannel
from gunwatch.alerts.outbox import Delivery, NewDelivery, Outbox
from gunwatch.alerts.outbox import dispatcher as dispatcher_module
from gunwatch.alerts.outbox import outbox as outbox_module
from gunwatch.alerts.outbox.dispatcher import Dispatcher, retry_delay
from gunwatch.alerts.outbox.executor import DeliveryExecutor
from gunwatch.config.channels import BaseChannelConfig, RetrySettings
from support.http_receiver import HttpReceiver
from support.waiting import wait_until

SQLITE_ONLY = pytest.mark.parametrize("store_url", ["sqlite"], indirect=True)  # the schedule, not the database

KEY = "evt-1:alert:ops"
DOWN_S = 25.0  # the outage the defaults must ride out


class Clock:
    """The time the dispatcher and the outbox read, moved only by the test."""

    def __init__(self, now: float) -> None:
        self.now = now

    def time(self) -> float:
        return self.now

    def monotonic(self) -> float:
        return self.now

    def move_to(self, when: float) -> None:
        self.now = max(self.now, when)


class PinnedJitter(random.Random):
    """Every jittered wait at one end of its range (`low`: the shortest, the worst case for giving up)."""

    def __init__(self, end: Literal["low", "high"]) -> None:
        super().__init__(0)
        self.end = end

    def uniform(self, a: float, b: float) -> float:
        return a if self.end == "low" else b


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    """The dispatcher's and the outbox's clock, starting at the real time (deliveries are stamped with it)."""
    import time

    moved = Clock(time.time())
    monkeypatch.setattr(dispatcher_module, "time", moved)
    monkeypatch.setattr(outbox_module, "time", moved)
    return moved


@pytest.fixture
def run_lane(outbox: Outbox, clock: Clock) -> Iterator[Callable[..., Dispatcher]]:
    """`run_lane(config, rng)`: a started Dispatcher with one webhook channel `ops`; stopped at teardown."""
    started: list[tuple[Dispatcher, DeliveryExecutor]] = []

    def run(config: BaseChannelConfig, rng: random.Random) -> Dispatcher:
        executor = DeliveryExecutor({"ops": WebhookChannel("ops", config)})
        worker = Dispatcher(Outbox(outbox.store), executor, poll_s=0.01, rng=rng)
        started.append((worker, executor))
        return worker.start(["ops"])

    yield run
    for worker, executor in started:
        worker.stop(timeout=5)
        executor.close()


def handled(outbox: Outbox, clock: Clock) -> Delivery:
    """The delivery once the worker has dealt with it at the clock's time: delivered, failed for good, or
    pending again until a later time (a retry, or a wait for the rate limit)."""
    found: list[Delivery] = []

    def done() -> bool:
        row = outbox.get(KEY)
        found[:] = [row] if row is not None else []
        return row is not None and (row.status in ("delivered", "failed")
                                    or (row.status == "pending" and row.next_attempt_at > clock.now))

    assert wait_until(done, timeout=10), f"the worker did not deal with the delivery: {found}"
    return found[0]


def waits_between_attempts(outbox: Outbox, clock: Clock, lane: Dispatcher, until: Callable[[Delivery], bool],
                           ) -> tuple[list[float], Delivery]:
    """Let the lane attempt, moving the clock to each retry's time, until the delivery is settled for good or
    `until(row)`; the waits the outbox stored after each failed attempt, and the last row."""
    waits: list[float] = []
    row = outbox.get(KEY)
    assert row is not None
    while True:
        move_past(clock, row)
        lane.wake("ops")
        row = handled(outbox, clock)
        if row.status != "pending" or until(row):
            return waits, row
        waits.append(row.next_attempt_at - clock.now)


def move_past(clock: Clock, row: Delivery) -> None:
    """The clock to a millisecond after the delivery is due, as a worker wakes a little after its time (the
    store keeps microseconds: exactly on time, a rounded-up time would not be due yet)."""
    clock.move_to(row.next_attempt_at + 0.001)


@SQLITE_ONLY
def test_each_failed_attempt_waits_twice_as_long_up_to_the_cap_then_gives_up(
        http_receiver: HttpReceiver, outbox: Outbox, clock: Clock, run_lane: Callable[..., Dispatcher],
        new_message: Callable[..., NewDelivery], make_config: Callable[..., BaseChannelConfig]) -> None:
    """Attempt n fails: the next waits initial_s * 2**(n-1) (at most), capped at max_s; the max_attempts-th
    failure gives up. The jitter pinned high, each wait is the ceiling itself."""
    http_receiver.stop()
    retry = RetrySettings(initial_s=0.5, max_s=4.0, max_attempts=8)
    lane = run_lane(make_config(http_receiver.url(), timeout_s=1, retry=retry), PinnedJitter("high"))
    outbox.enqueue([new_message(KEY)])

    waits, last = waits_between_attempts(outbox, clock, lane, until=lambda row: False)

    assert waits == pytest.approx([0.5, 1.0, 2.0, 4.0, 4.0, 4.0, 4.0], abs=1e-3)
    assert last.status == "failed" and last.attempts == 8
    assert "gave up after 8 attempts" in (last.last_error or "")


@SQLITE_ONLY
def test_the_shortest_waits_double_too(
        http_receiver: HttpReceiver, outbox: Outbox, clock: Clock, run_lane: Callable[..., Dispatcher],
        new_message: Callable[..., NewDelivery], make_config: Callable[..., BaseChannelConfig]) -> None:
    """The jitter pinned low, each wait is the shortest the schedule allows: at least half the ceiling
    (never below initial_s), so however the draws fall the attempts spread out as the ceiling doubles."""
    http_receiver.stop()
    retry = RetrySettings(initial_s=0.5, max_s=4.0, max_attempts=8)
    lane = run_lane(make_config(http_receiver.url(), timeout_s=1, retry=retry), PinnedJitter("low"))
    outbox.enqueue([new_message(KEY)])

    waits, last = waits_between_attempts(outbox, clock, lane, until=lambda row: False)

    assert waits == pytest.approx([0.5, 0.5, 1.0, 2.0, 2.0, 2.0, 2.0], abs=1e-3)
    assert last.status == "failed" and last.attempts == 8


@SQLITE_ONLY
@pytest.mark.parametrize("max_per_minute", [None, 1000], ids=["default rate limit", "no rate limit in the way"])
@pytest.mark.parametrize("jitter", ["low", "high"])
def test_a_receiver_down_for_25_s_does_not_exhaust_the_default_attempts(
        http_receiver: HttpReceiver, outbox: Outbox, clock: Clock, run_lane: Callable[..., Dispatcher],
        new_message: Callable[..., NewDelivery], make_config: Callable[..., BaseChannelConfig],
        jitter: Literal["low", "high"], max_per_minute: int | None) -> None:
    """The default retry settings, a receiver refusing connections for 25 s: the delivery is still pending
    when it comes back, and is then delivered, once. With the jitter pinned low (the shortest waits every
    time) this is the worst case; the rate limit, which also holds back retries to one address, is taken
    out of the way in one case so that the schedule alone must do it (calls and commands have none)."""
    http_receiver.stop()
    # The conftest's channels retry fast: this one has the defaults of a channel in a site file.
    defaults = BaseChannelConfig.model_fields
    config = make_config(http_receiver.url(), timeout_s=1, retry=RetrySettings(),
                         max_per_minute=max_per_minute or defaults["max_per_minute"].default)
    lane = run_lane(config, PinnedJitter(jitter))
    began = clock.now
    outbox.enqueue([new_message(KEY)])

    waits, row = waits_between_attempts(outbox, clock, lane, until=lambda row: clock.now - began >= DOWN_S)

    assert row.status == "pending", (f"given up {clock.now - began:.1f} s into the outage, after {row.attempts} "
                                     f"attempts (waits {[round(w, 2) for w in waits]})")
    http_receiver.start()
    move_past(clock, row)
    lane.wake("ops")
    delivered = handled(outbox, clock)
    assert delivered.status == "delivered" and delivered.attempts == row.attempts + 1
    assert [r.headers["x-gunwatch-key"] for r in http_receiver.requests] == [KEY]


def test_every_wait_lies_between_its_floor_and_its_ceiling() -> None:
    """Drawn for real: the n-th wait is within [max(initial_s, ceiling / 2), ceiling], the ceiling being
    initial_s * 2**(n-1) capped at max_s, and the draws differ (jitter, not retries in step)."""
    settings = RetrySettings(initial_s=0.5, max_s=60.0, max_attempts=50)
    rng = random.Random(7)
    for attempts in range(1, 60):
        ceiling = min(60.0, 0.5 * 2 ** (attempts - 1))
        draws = [retry_delay(settings, attempts, rng) for _ in range(50)]
        assert all(max(0.5, ceiling / 2) <= wait <= ceiling for wait in draws), (attempts, draws)
        if ceiling > 0.5:
            assert len(set(draws)) > 40
