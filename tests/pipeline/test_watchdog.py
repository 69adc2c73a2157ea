"""The watchdog's decisions, in a time the test sets: what is overdue, which cameras recovered, whether the
watch lives."""

from __future__ import annotations

from gunwatch.pipeline.watchdog import LATE_CHECKS, Recovery, Work, liveness, overdue


def work(kind: str = "detector call", name: str = "1", since: float = 100.0, bound_s: float = 60.0) -> Work:
    return Work(kind, name, since, bound_s, "a call of 2 frames", ("lobby", "yard"))  # type: ignore[arg-type]


def test_work_is_overdue_only_past_its_bound_and_says_why() -> None:
    call = work(since=100.0, bound_s=60.0)
    assert not call.overdue(100.0) and not call.overdue(160.0)  # at the bound: not yet
    assert call.overdue(160.5)
    assert call.reason(161.0) == "detector call hung: a call of 2 frames, 61 s (bound 60 s)"


def test_overdue_keeps_what_is_past_its_bound_the_longest_overdue_first() -> None:
    reader = work("reader", "lobby", since=0.0, bound_s=20.0)  # 80 s past at 100
    call = work("detector call", "7", since=30.0, bound_s=60.0)  # 10 s past
    clip = work("clip", "clips", since=90.0, bound_s=120.0)  # within
    delivery = work("delivery", "ops", since=10.0, bound_s=15.0)  # 75 s past
    assert overdue([call, clip, reader, delivery], 100.0) == [reader, delivery, call]
    assert overdue([clip], 100.0) == []


def test_a_held_up_camera_recovers_once_it_analysed_a_frame_after_it_was_held_up() -> None:
    recovery = Recovery()
    recovery.held_up("lobby", 10)
    recovery.held_up("yard", 4)
    assert recovery.recovered({"lobby": 10, "yard": 4}) == []  # nothing analysed since
    assert recovery.recovered({"lobby": 11, "yard": 4}) == ["lobby"]
    assert recovery.held == {"yard"}
    assert recovery.recovered({"lobby": 12}) == []  # forgotten once back; yard unknown: still held
    assert recovery.recovered({"yard": 5}) == ["yard"] and recovery.held == set()


def test_the_watch_lives_while_the_watchdog_goes_round_and_every_camera_thread_moves() -> None:
    every_s, bound_s = 1.0, 67.0
    now = 1000.0
    assert liveness(now, now - 0.5, every_s, {"lobby": now - 0.1, "yard": now - 66.0}, bound_s).ok
    late = liveness(now, now - LATE_CHECKS * every_s - 1, every_s, {"lobby": now}, bound_s)
    assert not late.ok and late.problems == ("the watchdog has not looked for 6 s",)
    stuck = liveness(now, now, every_s, {"yard": now - 68.0, "lobby": None}, bound_s)
    assert not stuck.ok and stuck.problems == ("camera lobby: its analysis thread ended",
                                               "camera yard: its analysis thread has not moved for 68 s")
    assert liveness(now, now, every_s, {}, bound_s).ok  # no cameras (stopping): the watchdog alone
