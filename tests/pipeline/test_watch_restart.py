"""`gunwatch watch` killed (-9) in the middle of an event, a protocol and a delivery, then restarted; and
stopped by a signal. Real processes on the demo clip, a file-sink channel, SQLite and PostgreSQL.

What must hold: the crash is recorded by the next start; the event is closed, with a note, and its protocol
goes on; every delivery arrives exactly once, under its original key (a delivery the crash cut off goes out
again under that key); cameras say `stopped`, never `online`, once nobody watches them. An event the crash left
before any protocol had started for it is still alerted by the next start, the alert saying it is late.
"""

from __future__ import annotations

import ctypes
import json
import os
import platform
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest
from sqlalchemy import select

from gunwatch.alerts.audit import AuditLog
from gunwatch.alerts.outbox import Outbox
from gunwatch.events.model import ThreatEvent
from gunwatch.events.store import EventStore
from gunwatch.events.store.runs import CLOSED_AT_RESTART, CLOSED_AT_STOP, CRASHED_REASON, STOPPED_REASON, RunLog
from gunwatch.events.store.schema import ProtocolRunRow
from support.videos import write_video
from support.waiting import wait_while_running

DEMO = Path(__file__).resolve().parents[2] / "samples" / "demo" / "lobby.mp4"  # a handgun from 3 s to 7 s
ESCALATE_AFTER_S = 8  # the protocol's wait for an acknowledgement: it runs out after the kill, in the restart


def site_file(folder: Path, name: str, store_url: str, clip: Path, loop: bool, pager: Path) -> Path:
    """The lobby camera on `clip`; a protocol telling the guard on two file channels (desk, pager), waiting
    for an acknowledgement, then telling the police on the desk. Events stay open for a minute."""
    site = folder / name
    site.write_text(f"""
cameras:
  lobby: {{url: "{clip}", loop: {str(loop).lower()}, detect: {{fps: 5}}}}
confirmation: {{close_after_s: 60}}
evidence: {{folder: "{folder / 'evidence'}"}}
store: {{url: "{store_url}"}}
alerts:
  channels:
    desk: {{url: "{(folder / 'desk.jsonl').as_uri()}"}}
    pager: {{url: "{pager.as_uri()}"}}
  recipients:
    guard: {{name: Guard}}
    police: {{name: Police}}
  protocols:
    gun_seen:
      trigger: {{on: threat}}
      steps:
        - notify: {{to: [guard], via: [desk, pager]}}
        - wait_ack: {{timeout_s: {ESCALATE_AFTER_S}}}
        - notify: {{to: [police], via: [desk]}}
""")
    return site


def start_watch(site: Path, *args: str) -> subprocess.Popen[str]:
    # stderr to a file: a pipe nobody reads would fill and block the process.
    log = site.with_suffix(".log").open("a")
    return subprocess.Popen([sys.executable, "-m", "gunwatch.cli", "watch", "--config", str(site), "--status-every",
                             "0", *args], stdout=subprocess.DEVNULL, stderr=log, text=True)


def log_of(site: Path) -> str:
    return site.with_suffix(".log").read_text()[-3000:]


def gunwatch(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "gunwatch.cli", *args], capture_output=True, text=True, timeout=120)


def sink_lines(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


def protocol_runs(store: EventStore) -> list[ProtocolRunRow]:
    with store.read_session() as session:
        rows = list(session.scalars(select(ProtocolRunRow).order_by(ProtocolRunRow.id)))
        session.expunge_all()
        return rows


@pytest.mark.parametrize("store_url", ["sqlite"], indirect=True)  # the store's part is the other test's
def test_an_event_a_crash_left_before_its_alert_started_is_alerted_late_by_the_next_start(
        store_url: str, tmp_path: Path) -> None:
    """The watch died after storing the event and before its protocol started (the event as it left it, no run):
    the next start closes it and raises its alert all the same, late and saying so."""
    store = EventStore(store_url)
    seen = time.time() - 120
    event = ThreatEvent("lobby", "open", seen - 1, seen, seen + 4, 0.83, (10.0, 20.0, 60.0, 90.0))
    store.save_event(event)
    quiet = write_video(tmp_path / "quiet.mp4", frames=20, size=(320, 240), fps=10.0)
    site = site_file(tmp_path, "site.yaml", store_url, quiet, loop=True, pager=tmp_path / "pager.jsonl")
    desk = tmp_path / "desk.jsonl"

    def alerted() -> list[dict]:
        return [line for line in sink_lines(desk) if line.get("event_id") == event.id]

    watch = start_watch(site, "--duration", "600")  # stopped below; the duration only bounds the wait
    try:
        # And the camera watched: the watch has started (its signal handlers in place) before it is stopped.
        assert wait_while_running(lambda: bool(alerted()) and "lobby" in store.online_since(), watch), log_of(site)
    finally:
        watch.send_signal(signal.SIGTERM)
        code = watch.wait(timeout=120)
    assert code == 0, log_of(site)
    [alert] = alerted()
    assert (alert["kind"], alert["recipient"]) == ("alert", "Guard")
    assert alert["title"] == "[gunwatch] LATE ALERT - GUN DETECTED: lobby", alert
    assert "LATE: gunwatch could not raise this alert while it happened" in alert["body"]
    closed = store.get_event(event.id)
    assert closed is not None and closed.state == "closed"
    assert [a.detail["reason"] for a in AuditLog(store).of_event(event.id) if a.action == "event.closed"] == [
        CLOSED_AT_RESTART]
    store.close()


@pytest.mark.slow
def test_a_watch_killed_mid_event_mid_protocol_and_mid_delivery_is_recovered_by_the_next_start(
        store_url: str, tmp_path: Path) -> None:
    store = EventStore(store_url)
    outbox, runs = Outbox(store), RunLog(store)
    pager_fifo = tmp_path / "pager.fifo"
    os.mkfifo(pager_fifo)  # nobody reads it: the pager's delivery hangs in `sending` until the kill
    first_site = site_file(tmp_path, "first.yaml", store_url, DEMO, loop=False, pager=pager_fifo)

    # --- the first run: killed while the event is open, the protocol waits and the pager delivery hangs -----
    first = start_watch(first_site, "--until-done")  # the clip's end bounds every wait on it

    def mid_everything() -> bool:
        # The protocol waits for an acknowledgement for ESCALATE_AFTER_S now. Not required: a machine slow
        # enough to escalate before the kill takes the other path to the same end, and the checks hold on both.
        statuses = {(d.channel, d.kind, d.status) for d in outbox.list()}
        return (any(e.state in ("open", "updated") for e in store.list_events())
                and {("desk", "alert", "delivered"), ("pager", "alert", "sending")} <= statuses)

    assert wait_while_running(mid_everything, first), log_of(first_site)
    first.send_signal(signal.SIGKILL)
    first.wait()
    [event] = store.list_events()
    [crashed] = runs.unfinished()
    # What the store says after a crash: the event still open (or open with a better frame since)...
    assert event.state in ("open", "updated") and crashed.pid == first.pid
    assert store.camera_status()[0].state == "online"  # ...until the next start corrects it
    desk = sink_lines(tmp_path / "desk.jsonl")
    assert [(line["kind"], line["recipient"]) for line in desk][:1] == [("alert", "Guard")]

    # --- the restart: no gun in view now; the pager is a plain file again ----------------------------------
    pager = tmp_path / "pager.jsonl"
    quiet = write_video(tmp_path / "quiet.mp4", frames=20, size=(320, 240), fps=10.0)
    second_site = site_file(tmp_path, "second.yaml", store_url, quiet, loop=True, pager=pager)
    second = start_watch(second_site, "--duration", "600")  # stopped below; the duration only bounds the wait

    def protocol_over() -> bool:
        return ([r.state for r in protocol_runs(store)] == ["done"]
                and {d.status for d in outbox.of_event(event.id)} == {"delivered"})

    assert wait_while_running(protocol_over, second), log_of(second_site)
    second.send_signal(signal.SIGTERM)
    assert second.wait() == 0, log_of(second_site)

    # The crash is recorded, by the second run, and the second run stopped cleanly.
    first_run, second_run = sorted(runs.latest(2), key=lambda run: run.id)
    assert (first_run.id, first_run.ending) == (crashed.id, "crashed")
    assert first_run.note.startswith(f"found by {second_run.label}")
    assert second_run.ending == "stopped" and second_run.pid == second.pid
    assert "did not stop cleanly" in log_of(second_site)

    # The event is closed, with the note, and only once.
    closed = store.get_event(event.id)
    assert closed is not None and closed.state == "closed" and closed.last_seen == event.last_seen
    notes = [a.detail for a in AuditLog(store).of_event(event.id) if a.action == "event.closed"]
    assert notes == [{"reason": CLOSED_AT_RESTART, "run": crashed.id}]

    # The protocol went on after the restart: escalated to the police, once.
    [protocol] = protocol_runs(store)
    assert (protocol.state, protocol.escalated) == ("done", 1)

    # Every delivery arrived, under its original key: one per step, recipient and channel, none remade. The
    # one the crash cut off (the pager's) was recovered. Exactly once each: a second arrival is allowed only
    # for a recovered delivery that the crash cut off after its receiver had it, never under another key.
    deliveries = outbox.of_event(event.id)
    assert len({(d.step, d.kind, d.channel, d.recipient) for d in deliveries}) == len(deliveries) == 3
    arrived = Counter(line["key"] for line in sink_lines(tmp_path / "desk.jsonl") + sink_lines(pager))
    assert set(arrived) == {d.key for d in deliveries}
    recovered = {a.detail["key"] for a in AuditLog(store).of_event(event.id) if a.action == "delivery.recovered"}
    [paged] = [d for d in deliveries if d.channel == "pager"]
    assert paged.key in recovered and arrived[paged.key] == 1  # it never reached the fifo
    assert all(count == 1 or (count == 2 and key in recovered) for key, count in arrived.items()), arrived
    assert [(line["kind"], line["recipient"]) for line in sink_lines(tmp_path / "desk.jsonl")] == [
        ("alert", "Guard"), ("escalation", "Police")]

    # The camera: stopped when the crash was found, watched again, stopped with the second run.
    [lobby] = store.camera_status(recent=20)
    assert (lobby.state, lobby.reason) == ("stopped", STOPPED_REASON)
    history = [(change.state, change.reason) for change in reversed(lobby.recent)]
    crash_at = history.index(("stopped", CRASHED_REASON))
    assert ("online", history[-2][1]) == history[-2] and crash_at < len(history) - 2

    status = gunwatch("camera", "status", "--store", store_url)
    assert status.returncode == 0, status.stderr
    assert "lobby: stopped since" in status.stderr
    assert f"last watch run: {second_run.label}" in status.stderr and ", stopped " in status.stderr
    store.close()


@pytest.mark.slow
@pytest.mark.parametrize("stop_signal", [signal.SIGINT, signal.SIGTERM])
@pytest.mark.parametrize("store_url", ["sqlite"], indirect=True)
def test_a_watch_stopped_by_a_signal_mid_event_says_so(store_url: str, tmp_path: Path,
                                                      stop_signal: signal.Signals) -> None:
    store = EventStore(store_url)
    site = tmp_path / "site.yaml"
    site.write_text(f"cameras:\n  lobby: {{url: \"{DEMO}\"}}\nconfirmation: {{close_after_s: 60}}\n"
                    f"evidence: {{folder: \"{tmp_path / 'evidence'}\"}}\nstore: {{url: \"{store_url}\"}}\n")
    watch = start_watch(site, "--until-done")

    def one_open_event() -> bool:  # "updated": still open, with a better frame since
        return [e.state for e in store.list_events()] in (["open"], ["updated"])

    assert wait_while_running(one_open_event, watch), log_of(site)
    watch.send_signal(stop_signal)
    assert watch.wait() == 0, log_of(site)

    [run] = RunLog(store).latest()
    assert (run.ending, run.pid, run.note) == ("stopped", watch.pid, None)
    [event] = store.list_events()
    assert event.state == "closed" and event.closed_at >= event.last_seen
    notes = [a.detail for a in AuditLog(store).of_event(event.id) if a.action == "event.closed"]
    assert notes == [{"reason": CLOSED_AT_STOP, "run": run.id}]
    [lobby] = store.camera_status()
    assert (lobby.state, lobby.reason) == ("stopped", STOPPED_REASON)
    status = gunwatch("camera", "status", "--config", str(site))
    assert "lobby: stopped since" in status.stderr and f"last watch run: {run.label}" in status.stderr
    store.close()


TGKILL = {"x86_64": 234, "aarch64": 131}  # the syscall's number, by machine


def signal_one_thread(pid: int, tid: int, signum: int) -> None:
    """`signum` to one thread of another process, as the kernel may hand a signal sent to the whole process to
    any of its threads (Python offers this only within its own process: signal.pthread_kill)."""
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.syscall(TGKILL[platform.machine()], pid, tid, signum) != 0:
        raise OSError(ctypes.get_errno(), f"tgkill {pid} {tid} {signum}")


@pytest.mark.skipif(platform.machine() not in TGKILL or not Path("/proc/self/task").is_dir(),
                    reason="needs Linux's tgkill and /proc on x86_64 or aarch64")
@pytest.mark.parametrize("store_url", ["sqlite"], indirect=True)
def test_a_sigterm_another_thread_takes_still_stops_the_watch(store_url: str, tmp_path: Path) -> None:
    """The handler of a signal runs on the main thread once it wakes. A watch whose main thread waited in a join
    without a timeout (`--status-every 0`, how scripts and services run it) slept through a SIGTERM the kernel
    had handed to a camera's or a writer's thread, until its run ended by itself (CI: a test waited 10 minutes)."""
    store = EventStore(store_url)
    quiet = write_video(tmp_path / "quiet.mp4", frames=20, size=(320, 240), fps=10.0)
    site = site_file(tmp_path, "site.yaml", store_url, quiet, loop=True, pager=tmp_path / "pager.jsonl")
    watch = start_watch(site, "--duration", "600")  # stopped below; the duration only bounds a lost stop
    try:
        assert wait_while_running(lambda: "lobby" in store.online_since(), watch), log_of(site)
        other = next(int(tid) for tid in os.listdir(f"/proc/{watch.pid}/task") if int(tid) != watch.pid)
        signal_one_thread(watch.pid, other, signal.SIGTERM)
        assert watch.wait(timeout=120) == 0, log_of(site)  # the stop, not the duration: that is 600 s
    finally:
        watch.kill()
    [run] = RunLog(store).latest()
    assert (run.ending, run.pid) == ("stopped", watch.pid)
    store.close()


@pytest.mark.parametrize("store_url", ["sqlite"], indirect=True)
def test_a_watch_stopped_while_it_starts_ends_its_run_as_any_stop_does(store_url: str, tmp_path: Path) -> None:
    """systemd stopping a unit that has just started: the run is in the store before the cameras open (that is
    how `gunwatch reload` finds it), and a SIGTERM from then on stops the watch in order, never kills it."""
    store = EventStore(store_url)
    quiet = write_video(tmp_path / "quiet.mp4", frames=20, size=(320, 240), fps=10.0)
    site = site_file(tmp_path, "site.yaml", store_url, quiet, loop=True, pager=tmp_path / "pager.jsonl")
    runs = RunLog(store)
    watch = start_watch(site, "--duration", "600")  # stopped below; the duration only bounds the wait
    try:
        assert wait_while_running(lambda: bool(runs.unfinished()), watch), log_of(site)
    finally:
        watch.send_signal(signal.SIGTERM)
    assert watch.wait() == 0, log_of(site)
    [run] = runs.latest()
    assert (run.ending, run.pid) == ("stopped", watch.pid), log_of(site)
    store.close()
