"""The sign-in rate limit, on a clock the tests move."""

from __future__ import annotations

import pytest

from gunwatch.users.rate_limit import LoginLimiter
from users.conftest import Clock

A, B = "192.0.2.7", "198.51.100.9"


@pytest.fixture
def clock() -> Clock:
    return Clock(100.0)


def fail(limiter: LoginLimiter, times: int, user: str = "ana", address: str = A) -> None:
    for _ in range(times):
        assert limiter.allowed(user, address)
        limiter.failed(user, address)


def test_after_n_failures_the_next_try_is_refused_until_the_window_passes(clock: Clock) -> None:
    limiter = LoginLimiter(3, 60.0, clock)
    fail(limiter, 3)
    assert not limiter.allowed("ana", A)
    assert limiter.retry_after("ana", A) == 60.0
    clock.advance(59.0)
    assert not limiter.allowed("ana", A)
    clock.advance(1.0)
    assert limiter.allowed("ana", A)
    assert limiter.retry_after("ana", A) == 0.0


def test_the_window_slides_failure_by_failure(clock: Clock) -> None:
    limiter = LoginLimiter(2, 60.0, clock)
    fail(limiter, 1)
    clock.advance(30.0)
    fail(limiter, 1)
    assert not limiter.allowed("ana", A)
    clock.advance(30.0)  # the first failure left the window
    assert limiter.allowed("ana", A)
    limiter.failed("ana", A)
    assert limiter.retry_after("ana", A) == 30.0


def test_the_limit_is_per_user_and_address(clock: Clock) -> None:
    limiter = LoginLimiter(2, 60.0, clock)
    fail(limiter, 2)
    assert not limiter.allowed("ana", A)
    assert limiter.allowed("ana", B)
    assert limiter.allowed("ben", A)


def test_one_address_trying_many_names_is_stopped_too(clock: Clock) -> None:
    limiter = LoginLimiter(2, 60.0, clock, address_attempts=5)
    for n in range(5):
        fail(limiter, 1, user=f"user{n}")
    assert not limiter.allowed("someone-else", A)
    assert limiter.allowed("someone-else", B)


def test_the_address_limit_defaults_to_four_times_the_user_limit() -> None:
    assert LoginLimiter(5, 60.0).address_attempts == 20


def test_a_success_clears_the_users_failures_but_not_the_addresses(clock: Clock) -> None:
    limiter = LoginLimiter(2, 60.0, clock, address_attempts=3)
    fail(limiter, 1)
    limiter.succeeded("ana", A)
    fail(limiter, 1)
    assert limiter.allowed("ana", A)  # one failure since the success
    limiter.succeeded("ana", A)
    fail(limiter, 1, user="ben")
    assert not limiter.allowed("carl", A)  # 3 failures from A in all


def test_forgotten_keys_are_dropped_when_many_are_remembered(clock: Clock, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("gunwatch.users.rate_limit._PRUNE_ABOVE", 4)
    limiter = LoginLimiter(2, 60.0, clock)
    for n in range(3):
        limiter.failed(f"user{n}", f"192.0.2.{n}")
    clock.advance(60.0)
    limiter.failed("late", B)
    assert set(limiter._failures) == {("user", "late", B), ("address", B)}


@pytest.mark.parametrize(("attempts", "window"), [(0, 60.0), (3, 0.0)])
def test_a_limit_that_refuses_everything_is_refused(attempts: int, window: float) -> None:
    with pytest.raises(ValueError, match="attempts must be >= 1 and window_s > 0"):
        LoginLimiter(attempts, window)
