"""The watch run's record: a start finds the runs that crashed and what they left; a stop says how it ended.

Dead processes are real ones (started and reaped), alerts go through a real AlertService to a file sink.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from gunwatch.alerts.service import AlertService
from gunwatch.config.alerts import AlertSettings
from gunwatch.events.model import ThreatEvent
from gunwatch.events.store import EventStore
from gunwatch.events.store.runs import CRASHED_REASON, FAILED_REASON, STOPPED_REASON, RunLog, WatchRun
from gunwatch.pipeline.run_record import RunRecord, is_dead
from gunwatch.pipeline.watchdog import Liveness
from support.waiting import wait_until

HOST = socket.gethostname()


def dead_pid() -> int:
    """The pid of a process that has exited and been reaped."""
    process = subprocess.Popen([sys.executable, "-c", "pass"])
    process.wait()
    return process.pid


def new_event(camera: str = "lobby", **changes: object) -> ThreatEvent:
    now = time.time()
    fields: dict = {"camera": camera, "state": "open", "first_seen": now - 0.5, "confirmed_at": now, "last_seen": now,
                    "max_score": 0.81, "best_box": (10.0, 20.0, 60.0, 90.0)}
    return ThreatEvent(**(fields | changes))


def cameras(store: EventStore) -> dict[str, tuple[str | None, str | None]]:
    return {camera.name: (camera.state, camera.reason) for camera in store.camera_status()}


def run_of(store: EventStore, run_id: int) -> WatchRun:
    return next(run for run in RunLog(store).latest(100) if run.id == run_id)


@pytest.mark.parametrize(("host", "pid", "heartbeat_age_s", "dead"), [
    (HOST, "dead", 0.0, True),  # this host, its process gone
    (HOST, "ours", 0.0, True),  # our own pid: the earlier process with it is gone (a restarted container)
    (HOST, "alive", 0.0, False),  # this host, its process alive, heartbeat fresh
    (HOST, "alive", 31.0, True),  # alive, but silent: the pid was reused by another process
    ("elsewhere", "alive", 0.0, False),  # another host: only the heartbeat can tell
    ("elsewhere", "alive", 31.0, True),
])
def test_which_runs_are_dead(host: str, pid: str, heartbeat_age_s: float, dead: bool) -> None:
    ours = os.getpid()
    pids = {"dead": dead_pid(), "ours": ours, "alive": os.getppid()}
    now = time.time()
    run = WatchRun(1, host, pids[pid], ("lobby",), now - 100, now - heartbeat_age_s)
    assert is_dead(run, HOST, ours, now, stale_after_s=30.0) is dead


def test_a_start_records_a_crashed_run_and_hands_on_its_open_event(store: EventStore) -> None:
    runs = RunLog(store)
    crashed = runs.begin(HOST, dead_pid(), ["lobby"])
    event = new_event()
    store.save_event(event)
    store.record_health("lobby", "online", "frames")
    recovered: list[ThreatEvent] = []

    record = RunRecord(store, ["lobby"]).start(recovered.append)

    assert [(e.id, e.state) for e in recovered] == [(event.id, "closed")]  # its alert may not have started
    assert store.get_event(event.id).state == "closed"
    found = run_of(store, crashed.id)
    assert found.ending == "crashed" and found.note.startswith(f"found by run {record.run.id} ")
    assert cameras(store) == {"lobby": ("stopped", CRASHED_REASON)}
    assert [run.id for run in runs.unfinished()] == [record.run.id]

    store.record_health("lobby", "online", "frames")  # the camera, watched again
    record.stop()
    assert run_of(store, record.run.id).ending == "stopped"
    assert cameras(store) == {"lobby": ("stopped", STOPPED_REASON)}


def test_a_live_run_elsewhere_is_left_alone_and_a_silent_one_is_crashed(store: EventStore) -> None:
    runs = RunLog(store)
    live = runs.begin("elsewhere", 7, ["yard"])
    silent = runs.begin("gone", 8, ["gate"], now=time.time() - 120)
    yard, gate = new_event("yard"), new_event("gate")
    store.save_event(yard)
    store.save_event(gate)

    record = RunRecord(store, ["lobby"], stale_after_s=60.0).start()

    assert run_of(store, live.id).ending is None
    assert store.get_event(yard.id).state == "open"  # its run may still hold it
    assert run_of(store, silent.id).ending == "crashed"
    assert store.get_event(gate.id).state == "closed"
    record.stop()
    assert store.get_event(yard.id).state == "open"
    assert run_of(store, live.id).ending is None


def test_a_start_waits_for_a_run_elsewhere_on_its_cameras_to_stop(store: EventStore) -> None:
    """A container restarted under a new host name: its predecessor looks alive until it ends or goes silent."""
    runs = RunLog(store)
    other = runs.begin("old-container", 7, ["lobby"])
    stopped: list[list[ThreatEvent]] = []

    def stop_other_once_the_start_waits() -> None:
        assert wait_until(lambda: len(runs.unfinished()) == 2, timeout=60)  # the new run is recorded: it waits
        stopped.append(runs.end(other.id, "stopped"))

    stopper = threading.Thread(target=stop_other_once_the_start_waits)
    stopper.start()
    record = RunRecord(store, ["lobby"], heartbeat_s=0.01, stale_after_s=600.0).start()
    stopper.join()
    assert stopped == [[]]
    assert run_of(store, other.id).ending == "stopped"  # its own word, not a crash
    record.stop()


def test_a_start_takes_a_run_elsewhere_that_goes_silent_for_crashed(store: EventStore) -> None:
    runs = RunLog(store)
    other = runs.begin("old-container", 7, ["lobby"])
    record = RunRecord(store, ["lobby"], heartbeat_s=0.01, stale_after_s=0.2).start()
    assert run_of(store, other.id).ending == "crashed"
    record.stop()


def test_the_heartbeat_moves_on_while_the_run_lasts(store: EventStore) -> None:
    record = RunRecord(store, ["lobby"], heartbeat_s=0.01).start()
    started = run_of(store, record.run.id)
    assert wait_until(lambda: run_of(store, record.run.id).heartbeat_at > started.heartbeat_at)
    record.stop()
    ended = run_of(store, record.run.id)
    assert ended.ending == "stopped" and ended.stopped_at >= ended.heartbeat_at


def test_no_heartbeat_while_the_watchdog_sees_the_pipeline_stuck_and_again_once_it_moves(store: EventStore) -> None:
    """The heartbeat asks the watchdog each time: while stuck, the beats it asked for leave the run's heartbeat
    where it was (the next start takes the run for crashed); moving again, it beats again."""
    stuck = threading.Event()
    stuck.set()
    asked: list[float] = []

    def liveness() -> Liveness:
        asked.append(time.monotonic())
        return Liveness(not stuck.is_set(), ("camera lobby: its analysis thread has not moved for 70 s",))

    record = RunRecord(store, ["lobby"], heartbeat_s=0.01)
    record.liveness = liveness
    record.start()
    try:
        started = run_of(store, record.run.id)
        assert wait_until(lambda: len(asked) >= 5)  # five beats' turns, each one withheld
        assert run_of(store, record.run.id).heartbeat_at == started.heartbeat_at
        stuck.clear()
        assert wait_until(lambda: run_of(store, record.run.id).heartbeat_at > started.heartbeat_at)
    finally:
        record.stop()


@pytest.mark.parametrize(("error", "ending", "reason"), [
    (None, "stopped", STOPPED_REASON),
    (KeyboardInterrupt(), "stopped", STOPPED_REASON),  # Ctrl-C before the signal handlers were installed
    (RuntimeError("detector exploded"), "failed", FAILED_REASON),
])
def test_a_stop_says_how_the_watch_ended(store: EventStore, error: BaseException | None, ending: str,
                                         reason: str) -> None:
    record = RunRecord(store, ["lobby"]).start()
    assert record.exit(type(error) if error else None, error, None) is False  # never swallows the error
    run = run_of(store, record.run.id)
    assert run.ending == ending
    assert run.note == (None if ending == "stopped" else "ended by RuntimeError (see the log)")
    assert cameras(store) == {"lobby": ("stopped", reason)}


# --- alerts: closing an event at restart never loses its alert nor sends it twice --------------------------

def alert_settings(sink: Path) -> AlertSettings:
    return AlertSettings.model_validate({
        "channels": {"desk": {"url": sink.as_uri(), "retry": {"initial_s": 0.05, "max_s": 0.2}}},
        "recipients": {"guard": {"name": "Guard"}},
        "protocols": {"gun_seen": {"trigger": {"on": "threat"}, "steps": [{"notify": {"to": ["guard"],
                                                                                      "via": ["desk"]}}]}},
    })


def sink_keys(sink: Path) -> list[str]:
    return [json.loads(line)["key"] for line in sink.read_text().splitlines()] if sink.exists() else []


@pytest.fixture
def alerts(store: EventStore, tmp_path: Path) -> Callable[[], AlertService]:
    started: list[AlertService] = []

    def start() -> AlertService:
        started.append(AlertService(alert_settings(tmp_path / "alerts.jsonl"), store, poll_s=0.1).start())
        return started[-1]

    yield start
    for service in started:
        service.close(drain_s=0.5)


def test_an_alert_the_crash_cut_off_goes_out_at_the_restart(store: EventStore, alerts: Callable[[], AlertService],
                                                            tmp_path: Path) -> None:
    """The process stored the event, then died before handing it to its alert thread."""
    RunLog(store).begin(HOST, dead_pid(), ["lobby"])
    event = new_event()
    store.save_event(event)
    service = alerts()

    record = RunRecord(store, ["lobby"]).start(service.submit_event)

    sink = tmp_path / "alerts.jsonl"
    assert wait_until(lambda: len(sink_keys(sink)) == 1, timeout=30)
    service.close()  # everything due delivered: nothing more can come
    record.stop()
    assert sink_keys(sink) == [d.key for d in service.outbox.of_event(event.id)]
    assert [d.status for d in service.outbox.of_event(event.id)] == ["delivered"]
    assert store.get_event(event.id).state == "closed"


def test_an_alert_sent_before_the_crash_is_not_sent_again(store: EventStore, alerts: Callable[[], AlertService],
                                                          tmp_path: Path) -> None:
    sink = tmp_path / "alerts.jsonl"
    RunLog(store).begin(HOST, dead_pid(), ["lobby"])
    event = new_event()
    store.save_event(event)
    first = alerts()
    first.submit_event(event)
    assert wait_until(lambda: len(sink_keys(sink)) == 1, timeout=30)
    first.close()
    service = alerts()

    record = RunRecord(store, ["lobby"]).start(service.submit_event)

    service.close()  # the handed-on event handled, everything due delivered
    record.stop()
    assert len(sink_keys(sink)) == 1
    assert [d.status for d in service.outbox.of_event(event.id)] == ["delivered"]
