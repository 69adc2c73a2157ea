"""The extras of `gunwatch bench cluster` beside its rows: a node's failover, a gun event's evidence bytes and
an alert's fan-out (`gunwatch bench alerts` as it is)."""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any

from gunwatch.bench.cluster_cameras import DEMO_CLIP, prepare_clip
from gunwatch.bench.cluster_watch import READY_TIMEOUT_S
from gunwatch.bench.pg_stat import read_pg_stat
from gunwatch.bench.rtsp_server import RtspServer
from gunwatch.events.store import EventStore

if TYPE_CHECKING:
    from gunwatch.bench.cluster_bench import Bench
    from gunwatch.bench.cluster_watch import WatchProcess
    from gunwatch.events.model import ThreatEvent

EVIDENCE_TIMEOUT_S = 180.0
FAILOVER_TIMEOUT_S = 300.0
EVIDENCE_CLOSE_AFTER_S = 2.0  # the demo clip loops a 4 s gun every 10 s: the event must close in between


@dataclass(frozen=True)
class Failover:
    node: str  # the worker killed
    cameras: list[str]  # its cameras, moved
    seconds: dict[str, float]  # camera -> SIGKILL to online on the other node
    lease_s: float

    def to_json_dict(self) -> dict[str, object]:
        values = sorted(self.seconds.values())
        return {**asdict(self), "p50_s": values[len(values) // 2] if values else None,
                "max_s": values[-1] if values else None}


@dataclass(frozen=True)
class EvidenceCost:
    events: int  # closed events with a clip
    bytes_per_event: float  # their snapshot, annotated snapshot and clip
    clip_bytes_per_event: float
    folder_bytes: int  # the whole evidence folder at the end
    close_after_s: float


def measure_failover(bench: Bench, watch: WatchProcess) -> Failover:
    """SIGKILL the worker running most cameras; each of its cameras' time until online on the other."""
    assert bench.cluster is not None
    where = bench.placement(watch)
    victim = max(bench.cluster.workers, key=lambda name: (sum(node == name for node in where.values()), name))
    moved = sorted(camera for camera, node in where.items() if node == victim)
    bench.progress(f"failover: SIGKILL {victim} ({len(moved)} cameras: {', '.join(moved)})")
    killed_at = time.time()
    bench.cluster.kill(victim)
    deadline = time.monotonic() + FAILOVER_TIMEOUT_S
    while True:
        watch.check_running()
        now_where = bench.placement(watch)
        back = bench.store.online_since(killed_at)
        if set(now_where) == set(where) and victim not in now_where.values() and back >= set(moved):
            break
        if time.monotonic() > deadline:
            raise RuntimeError(f"failover: {', '.join(sorted(set(moved) - back))} not online again "
                               f"{FAILOVER_TIMEOUT_S:g} s after {victim} was killed:\n{watch.log_tail()}")
        time.sleep(0.2)
    state_at = {camera.name: camera.state_at or 0.0 for camera in bench.store.camera_status(recent=0)}
    result = Failover(victim, moved, {camera: state_at[camera] - killed_at for camera in moved},
                      bench.settings.lease_s)
    summary = result.to_json_dict()
    bench.progress(f"failover: {len(moved)} cameras online again, p50 {summary['p50_s']:.1f} s, "
                   f"max {summary['max_s']:.1f} s after the SIGKILL (lease {bench.settings.lease_s:g} s)")
    return result


def measure_evidence(bench: Bench) -> EvidenceCost:
    """The demo clip (a handgun from 3 s to 7 s of 10) as the only camera, until an event closed with its clip;
    the bytes each closed event left in the evidence folder."""
    clip = prepare_clip(DEMO_CLIP, bench.folder / "demo", 10.0)
    with RtspServer(clip.path, "lobby", log=bench.folder / "demo" / "rtsp.log") as server:
        watch, _ = bench.watch_process({"lobby": server.url}, bench.cluster is not None,
                                       {"close_after_s": EVIDENCE_CLOSE_AFTER_S})
        with watch:
            bench.progress(f"evidence: the demo clip as camera lobby (pid {watch.pid}), until an event closes "
                           "with its clip")
            watch.wait_ready(bench.store, READY_TIMEOUT_S)
            deadline = time.monotonic() + EVIDENCE_TIMEOUT_S
            while not closed_with_clip(bench.store, watch.started_at):
                watch.check_running()
                if time.monotonic() > deadline:
                    raise RuntimeError(f"evidence: no event of the demo camera closed with its clip within "
                                       f"{EVIDENCE_TIMEOUT_S:g} s:\n{watch.log_tail()}")
                time.sleep(0.5)
        bench.check_stopped(watch)  # stopped: its writers drained, every closed event's files are complete
        events = closed_with_clip(bench.store, watch.started_at)
        folder = watch.folder / "evidence"
    total = [sum(_size(path) for path in (e.evidence.snapshot, e.evidence.annotated, e.evidence.clip))
             for e in events]
    clips = [_size(e.evidence.clip) for e in events]
    cost = EvidenceCost(len(events), sum(total) / len(events), sum(clips) / len(events),
                        sum(_size(str(path)) for path in folder.rglob("*") if path.is_file()),
                        EVIDENCE_CLOSE_AFTER_S)
    bench.progress(f"evidence: {cost.events} closed events, {cost.bytes_per_event / 1e6:.2f} MB each "
                   f"(clip {cost.clip_bytes_per_event / 1e6:.2f} MB)")
    return cost


def closed_with_clip(store: EventStore, since: float) -> list[ThreatEvent]:
    return [event for event in store.list_events(limit=100, camera="lobby")
            if event.confirmed_at >= since and event.state == "closed" and _size(event.evidence.clip) > 0]


def _size(path: str | None) -> int:
    try:
        return os.path.getsize(path) if path else 0
    except OSError:
        return 0


def run_alerts(store_url: str, events: int, progress: Callable[[str], None]) -> dict[str, Any]:
    """`gunwatch bench alerts` as it is, on the bench's store; with this process's CPU and the store's
    transactions per event around it (the local receivers run in this process too)."""
    from gunwatch.bench.alerts import AlertBenchSettings, run_alert_bench

    before, cpu = read_pg_stat(store_url), time.process_time()
    result = run_alert_bench(AlertBenchSettings(events, store=store_url), progress=progress)
    spent, done = time.process_time() - cpu, read_pg_stat(store_url) - before
    return {"bench_alerts": result.to_json_dict(), "events": events,
            "process_cpu_ms_per_event": 1000 * spent / events,
            "store_commits_per_event": done.commits / events,
            "store_rows_written_per_event": done.rows_written / events,
            "note": "CPU: the bench process, whose receivers (webhook, apprise, SMTP, file) run in it too; "
                    "MQTT's broker is a process of its own, not counted. Store: every transaction and row while it "
                    "ran, divided by the events (the outbox workers' polling included)"}
