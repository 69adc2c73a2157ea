"""Watch runs in the store: a run's end marks its cameras stopped and closes the events it left open, once."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from gunwatch.events.model import ThreatEvent
from gunwatch.events.store import EventStore
from gunwatch.events.store.report import format_camera_status, seconds_text
from gunwatch.events.store.runs import (
    CLOSED_AT_RESTART,
    CLOSED_AT_STOP,
    CRASHED_REASON,
    FAILED_REASON,
    STOPPED_REASON,
    RunLog,
    WatchRun,
)
from gunwatch.events.store.schema import AuditRow
from gunwatch.events.store.status import CameraStatus


def audit_of(store: EventStore, event_id: str) -> list[tuple[str, str, dict]]:
    with store.read_session() as session:
        rows = session.query(AuditRow).filter(AuditRow.event_id == event_id).order_by(AuditRow.id)
        return [(row.actor, row.action, dict(row.detail)) for row in rows]


def states(store: EventStore) -> dict[str, tuple[str | None, str | None]]:
    return {camera.name: (camera.state, camera.reason) for camera in store.camera_status()}


def test_a_run_is_recorded_and_its_heartbeat_moves_on(store: EventStore, t0: float) -> None:
    runs = RunLog(store)
    run = runs.begin("host-a", 4321, ["lobby", "door"], now=t0)
    assert (run.host, run.pid, run.cameras, run.started_at, run.heartbeat_at) == (
        "host-a", 4321, ("lobby", "door"), t0, t0)
    assert runs.beat(run.id, now=t0 + 5)
    [stored] = runs.unfinished()
    assert (stored.id, stored.heartbeat_at, stored.ending, stored.stopped_at) == (run.id, t0 + 5, None, None)


def test_a_clean_stop_marks_its_cameras_stopped_and_closes_their_open_events(
        store: EventStore, make_event: Callable[..., ThreatEvent], t0: float) -> None:
    runs = RunLog(store)
    ours, elsewhere, done = make_event(), make_event(camera="yard"), make_event(state="closed", closed_at=t0 + 2)
    for event in (ours, elsewhere, done):
        store.save_event(event)
    store.record_health("lobby", "online", "frames", at=t0)
    store.record_health("yard", "online", "frames", at=t0)
    run = runs.begin("host-a", 4321, ["lobby"], now=t0)

    closed = runs.end(run.id, "stopped", now=t0 + 10)

    assert [(event.id, event.state, event.closed_at) for event in closed] == [(ours.id, "closed", t0 + 10)]
    stored = store.get_event(ours.id)
    assert stored is not None and (stored.state, stored.closed_at, stored.last_seen) == ("closed", t0 + 10, t0 + 0.5)
    assert audit_of(store, ours.id) == [("watch", "event.closed", {"reason": CLOSED_AT_STOP, "run": run.id})]
    assert store.get_event(elsewhere.id).state == "open"  # another camera: not this run's
    assert audit_of(store, done.id) == []
    assert states(store) == {"lobby": ("stopped", STOPPED_REASON), "yard": ("online", "frames")}
    [ended] = runs.latest()
    assert (ended.ending, ended.stopped_at, ended.note) == ("stopped", t0 + 10, None)
    assert runs.unfinished() == []
    assert not runs.beat(run.id)  # ended: a heartbeat no longer counts


def test_a_failed_run_says_so_and_cameras_of_a_live_run_are_spared(
        store: EventStore, make_event: Callable[..., ThreatEvent], t0: float) -> None:
    runs = RunLog(store)
    shared = make_event(camera="door")
    store.save_event(shared)
    run = runs.begin("host-a", 4321, ["lobby", "door"], now=t0)

    assert runs.end(run.id, "failed", "ended by RuntimeError (see the log)", spare={"door"}, now=t0 + 1) == []

    assert states(store) == {"lobby": ("stopped", FAILED_REASON)}
    assert store.get_event(shared.id).state == "open"
    assert runs.latest()[0].note == "ended by RuntimeError (see the log)"


def test_a_crashed_run_is_recorded_once(store: EventStore, make_event: Callable[..., ThreatEvent], t0: float) -> None:
    runs = RunLog(store)
    event = make_event(state="updated")
    store.save_event(event)
    store.record_health("lobby", "online", "frames", at=t0)
    dead = runs.begin("host-a", 4321, ["lobby"], now=t0)
    runs.beat(dead.id, now=t0 + 5)
    [dead] = runs.unfinished()

    closed = runs.crashed(dead, "run 2 (host-a:99)", now=t0 + 65)

    assert [(e.id, e.state, e.max_score) for e in closed or []] == [(event.id, "closed", event.max_score)]
    assert store.get_event(event.id).state == "closed"
    assert audit_of(store, event.id) == [("watch", "event.closed", {"reason": CLOSED_AT_RESTART, "run": dead.id})]
    assert states(store) == {"lobby": ("stopped", CRASHED_REASON)}
    [recorded] = runs.latest()
    assert (recorded.ending, recorded.stopped_at) == ("crashed", t0 + 65)
    assert recorded.note == "found by run 2 (host-a:99): no clean stop; last heartbeat 60 s before"
    # A second start finding the same run (it read the run before the first one recorded it) does nothing.
    assert runs.crashed(dead, "run 3 (host-b:7)", now=t0 + 66) is None
    assert len(audit_of(store, event.id)) == 1
    assert [c.reason for c in store.camera_status()[0].recent].count(CRASHED_REASON) == 1


def test_events_left_open_are_closed_except_on_spared_cameras(
        store: EventStore, make_event: Callable[..., ThreatEvent], t0: float) -> None:
    runs = RunLog(store)
    left, watched = make_event(), make_event(camera="yard")
    store.save_event(left)
    store.save_event(watched)

    assert [e.id for e in runs.close_open_events(CLOSED_AT_RESTART, spare={"yard"}, now=t0 + 3)] == [left.id]
    assert audit_of(store, left.id) == [("watch", "event.closed", {"reason": CLOSED_AT_RESTART, "run": None})]
    assert store.get_event(watched.id).state == "open"
    assert runs.close_open_events(CLOSED_AT_RESTART, spare={"yard"}) == []


def test_the_latest_runs_come_newest_first(store: EventStore, t0: float) -> None:
    runs = RunLog(store)
    first = runs.begin("host-a", 1, ["lobby"], now=t0)
    second = runs.begin("host-a", 2, ["lobby"], now=t0 + 60)
    assert [run.id for run in runs.latest(5)] == [second.id, first.id]
    assert [run.id for run in runs.unfinished()] == [first.id, second.id]


def test_ending_an_unknown_run_is_an_error_naming_it(store: EventStore) -> None:
    with pytest.raises(ValueError, match="no watch run 99"):
        RunLog(store).end(99, "stopped")


@pytest.mark.parametrize(("ending", "note", "said"), [
    (None, None, "running (last heartbeat 5 s ago)"),
    ("stopped", None, "stopped "),
    ("failed", "ended by RuntimeError (see the log)", "stopped on an error "),
    ("crashed", "found by run 3 (host-a:99): no clean stop", "crashed, found "),
])
def test_camera_status_says_how_the_last_run_ended(t0: float, ending: str | None, note: str | None,
                                                   said: str) -> None:
    run = WatchRun(2, "host-a", 42, ("lobby",), t0, t0 + 55, None if ending is None else t0 + 60, ending, note)
    camera = CameraStatus("lobby", None, "file", "stopped", STOPPED_REASON, t0 + 60, t0 + 60)
    lines = format_camera_status([camera], "runs/x.db", run, now=t0 + 60).splitlines()
    assert lines[1].startswith(f"last watch run: run 2 (host-a:42), started {seconds_text(t0)}, {said}")
    assert lines[1].endswith(f"({note})" if note else "s ago)" if ending is None else seconds_text(t0 + 60))
    assert lines[2].startswith("lobby: stopped since")
    assert format_camera_status([], "runs/x.db", run, now=t0 + 60).splitlines()[1] == lines[1]
