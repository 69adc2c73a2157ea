"""`gunwatch bench cluster`: what each camera costs in cluster mode, on a loopback cluster this bench starts.

Real parts only: a Ray cluster of a head and two worker nodes (`ray_local`, each node its own process group),
PostgreSQL (the store given: a scratch database), recorded clips served over RTSP (`cluster_cameras`), and
`gunwatch watch --cluster` in a process of its own (`cluster_watch`) with the product's defaults. Per camera
count N:

1. the watch starts with N cameras; the bench waits until every camera holds a lease and is online, then until
   every camera's first frames are through, then `warmup_s` more;
2. a snapshot (`cluster_rows.Snapshot`), `seconds` later another: the row between them: per camera frames
   sampled / analysed / decoded (its /metrics), CPU seconds per node, the head and the driver (`proc_cpu`),
   the store's transactions and rows written (`pg_stat`), the detector's ms per analysed frame;
3. SIGTERM: cameras stop, leases are given back.

The reference, measured in the same run: the same N cameras under one `gunwatch watch` process (no cluster),
same store, for the counts asked (default: the smallest). Beside the rows: what decoding each clip costs
(measured apart), the evidence bytes of a gun event (`--evidence`: the demo clip as a camera of its own until
its events close), an alert's fan-out (`--alerts N`: `gunwatch bench alerts` as it is, on the same store), and a
node's failover (`--failover`: the worker running most cameras SIGKILLed after the last count's window; each of
its cameras' time until it is online on the other node).
"""

from __future__ import annotations

import os
import platform
import tempfile
import time
from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy.engine import make_url

from gunwatch.bench.cluster_cameras import DEMO_CLIP, Cameras, Clip, serve_clips
from gunwatch.bench.cluster_extras import EvidenceCost, Failover, measure_evidence, measure_failover, run_alerts
from gunwatch.bench.cluster_rows import DRIVER_GROUP, HEAD_GROUP, STORE_GROUP, Row, Snapshot, row_between
from gunwatch.bench.cluster_watch import READY_TIMEOUT_S, WatchProcess, site_dict
from gunwatch.bench.live_scrape import Scraper, metrics_token
from gunwatch.bench.pg_stat import read_pg_stat
from gunwatch.bench.proc_cpu import group_times, listening_pid, machine_busy, read_processes
from gunwatch.bench.ray_local import HEAD, RayCluster, free_port, ray_missing
from gunwatch.bench.rtsp_server import APT_PACKAGES, gst_rtsp_missing
from gunwatch.config.camera import DetectSettings
from gunwatch.config.cluster import ClusterSettings
from gunwatch.events.store import EventStore

WORKERS = ["node_a", "node_b"]
FIRST_FRAMES_TIMEOUT_S = 120.0


@dataclass(frozen=True)
class ClusterBenchSettings:
    store: str  # PostgreSQL URL (a scratch database)
    clips: tuple[Path, ...]  # recorded clips, served as cameras
    cameras: tuple[int, ...] = (2, 4, 8)
    seconds: float = 60.0
    warmup_s: float = 10.0
    fps: float = DetectSettings.model_fields["fps"].default
    worker_cpus: int = 2
    lease_s: float = ClusterSettings.model_fields["lease_s"].default
    reference: tuple[int, ...] | None = None  # one-process counts; None: the smallest of `cameras`; (): none
    evidence: bool = True
    alerts: int = 30  # events for `gunwatch bench alerts`; 0: skip it
    failover: bool = False
    clip_seconds: float = 30.0  # each clip's first seconds are served, looping

    def __post_init__(self) -> None:
        if not self.cameras or min(self.cameras) < 1:
            raise ValueError("camera counts must be >= 1")
        if self.seconds <= 0 or self.warmup_s < 0:
            raise ValueError("the window must be > 0 s and the warm-up >= 0 s")
        if not self.clips:
            raise ValueError("no clips to serve as cameras")
        if make_url(self.store).get_backend_name() != "postgresql":
            raise ValueError("--store must be a PostgreSQL URL (postgresql://USER@HOST/DATABASE, a scratch "
                             "database): cluster mode refuses SQLite")
        if self.failover and self.lease_s >= ClusterSettings.model_fields["restart_bound_s"].default:
            raise ValueError("the lease must be shorter than the cluster's restart bound")

    @property
    def reference_counts(self) -> tuple[int, ...]:
        return (min(self.cameras),) if self.reference is None else self.reference


@dataclass
class ClusterBench:
    settings: ClusterBenchSettings
    clips: list[Clip]
    rows: list[Row] = field(default_factory=list)
    failover: Failover | None = None
    evidence: EvidenceCost | None = None
    alerts: dict[str, Any] | None = None
    started_at: float = field(default_factory=time.time)

    def reference_for(self, cameras: int) -> Row | None:
        return next((row for row in self.rows if row.mode == "one process" and row.cameras == cameras), None)

    def to_json_dict(self) -> dict[str, object]:
        import ray

        settings = {**asdict(self.settings), "store": _redacted(self.settings.store),
                    "clips": [str(path) for path in self.settings.clips],
                    "reference": list(self.settings.reference_counts)}
        rows = []
        for row in self.rows:
            reference = self.reference_for(row.cameras)
            ratio = (row.cpu_ms_per_camera_s / reference.cpu_ms_per_camera_s
                     if reference is not None and row.mode == "cluster" and reference.cpu_ms_per_camera_s else None)
            rows.append({**row.to_json_dict(), "cpu_per_camera_s_vs_one_process": ratio})
        return {
            "settings": settings, "started_at": self.started_at,
            "machine": {"cores": os.cpu_count(), "python": platform.python_version(), "ray": ray.__version__,
                        "worker_nodes": len(WORKERS), "worker_cpus": self.settings.worker_cpus},
            "clips": [clip.to_json_dict() for clip in self.clips], "rows": rows,
            "failover": self.failover.to_json_dict() if self.failover else None,
            "evidence": asdict(self.evidence) if self.evidence else None,
            "alerts": self.alerts, "costs": cost_terms(self),
        }


def cost_terms(bench: ClusterBench) -> dict[str, str]:
    """Which of the cost model's terms this run has, and where in the JSON (or why not)."""
    return {
        "decode": "clips[].decode_ms_per_frame (PyAV in the bench process, frames to RGB) and per row "
                  "decode_ms_per_camera_s = that times the frames each camera decoded per second",
        "inference": "rows[].infer_ms: detector ms per analysed frame (the cameras' recent means at the window's "
                     "end, wall time of shared detector calls, not CPU); rows[].cpu_ms_per_analysed: every gunwatch "
                     "process's CPU per analysed frame",
        "node_cpu": "rows[].cpu_s per group (head, node_a, node_b, driver; store = the PostgreSQL server when "
                    "local) and rows[].group_cpu_ms_per_camera_s",
        "store_writes": "rows[].store (pg_stat_database deltas) and rows[].store_per_s / store_per_camera_s",
        "alert_fanout": ("alerts: gunwatch bench alerts on the same store, as it is (latency per channel); "
                         "plus its process CPU and store transactions per event" if bench.alerts is not None
                         else "not run (--alerts 0): gunwatch bench alerts measures it"),
        "evidence": ("evidence: bytes per closed gun event (snapshot, annotated snapshot, clip) of the demo clip "
                     "as a camera" if bench.evidence is not None else "not measured (--no-evidence)"),
        "failover": ("failover: per moved camera, SIGKILL of its node to online on the other"
                     if bench.failover is not None else "not measured (--failover not given)"),
    }


def _redacted(url: str) -> str:
    return make_url(url).render_as_string(hide_password=True)


def check_can_run() -> None:
    """RuntimeError saying what is missing for the bench's cameras or cluster."""
    missing = gst_rtsp_missing()
    if missing:
        raise RuntimeError(f"the bench's cameras need GStreamer's RTSP server ({missing}); on Debian: apt-get "
                           f"install {APT_PACKAGES}")
    missing = ray_missing()
    if missing:
        raise RuntimeError(f"the bench's cluster needs Ray ({missing}): pip install 'gunwatch[cluster]'")


def store_server_pid(url: str) -> int | None:
    """The local PostgreSQL server's postmaster, when the store's host is this machine."""
    parsed = make_url(url)
    if parsed.host not in (None, "", "localhost") and not str(parsed.host).startswith("127."):
        return None
    return listening_pid(parsed.port or 5432)


class Sampler:
    """Snapshots of one watch: its cameras' counters, its process groups' CPU, the store, the machine."""

    def __init__(self, scraper: Scraper, groups: dict[str, int], store_url: str,
                 placement: Callable[[], dict[str, str]] | None = None) -> None:
        self.scraper, self.groups, self.store_url, self.placement = scraper, groups, store_url, placement

    def take(self, cameras: list[str]) -> Snapshot:
        at, counts = self.scraper.cameras(cameras, FIRST_FRAMES_TIMEOUT_S)
        table, machine = read_processes(), machine_busy()  # right after the scrape: the same moment, near enough
        store = read_pg_stat(self.store_url)
        groups = {name: group_times(table, pid) for name, pid in self.groups.items()}
        names = {row.key: row.name for row in table.values()}
        return Snapshot(at, counts, groups, store, machine, self.placement() if self.placement is not None else {},
                        names)

    def warm_up(self, cameras: list[str], seconds: float) -> None:
        """Every camera's first frames through (sampled twice: the first frame of each is analysed whatever
        the gate says, a burst not to charge to the window), then `seconds` more."""
        deadline = time.monotonic() + FIRST_FRAMES_TIMEOUT_S
        while True:
            _, counts = self.scraper.cameras(cameras, FIRST_FRAMES_TIMEOUT_S)
            slow = sorted(name for name, count in counts.items() if count.sampled < 2)
            if not slow:
                break
            if time.monotonic() > deadline:
                raise RuntimeError(f"cameras not sampled twice {FIRST_FRAMES_TIMEOUT_S:g} s after they were "
                                   f"online: {', '.join(slow)}")
            time.sleep(0.5)
        time.sleep(seconds)


class Bench:
    """One run's shared parts: the cameras' servers, the token, the cluster once started, the groups."""

    def __init__(self, settings: ClusterBenchSettings, folder: Path, cameras: Cameras,
                 progress: Callable[[str], None]) -> None:
        self.settings, self.folder, self.servers, self.progress = settings, folder, cameras, progress
        self.token = metrics_token(settings.store)
        self.store = EventStore(settings.store)
        self.store_pid = store_server_pid(settings.store)
        self.cluster: RayCluster | None = None
        self.runs = 0

    def close(self) -> None:
        self.store.close()

    def watch_process(self, cameras: dict[str, str], cluster: bool, confirmation: dict[str, Any] | None = None
               ) -> tuple[WatchProcess, int]:
        self.runs += 1
        port = free_port("127.0.0.1")
        section = None
        if cluster:
            assert self.cluster is not None
            section = {"address": self.cluster.address, "lease_s": self.settings.lease_s, "camera_cpus": 0}
        site = site_dict(cameras, self.settings.store, self.folder / f"run{self.runs}", port, self.settings.fps,
                         section, confirmation)
        return WatchProcess(self.folder / f"run{self.runs}", site, self.cluster.address if cluster else None), port

    def groups(self, watch: WatchProcess) -> dict[str, int]:
        groups = {DRIVER_GROUP: watch.pid}
        if self.cluster is not None and watch.address is not None:
            groups |= {HEAD_GROUP if name == HEAD else name: process.pid
                       for name, process in self.cluster.nodes.items()}
        if self.store_pid is not None:
            groups[STORE_GROUP] = self.store_pid
        return groups

    def placement(self, watch: WatchProcess) -> dict[str, str]:
        assert self.cluster is not None
        return {camera: self.cluster.worker_of(node) or node for camera, node in watch.leased(self.store).items()}

    def measure(self, count: int, cluster: bool, failover: bool = False) -> tuple[Row, Failover | None]:
        mode = "cluster" if cluster else "one process"
        cameras = self.servers.urls(count)
        decode_ms = {name: clip.decode_ms for name, clip in self.servers.clip_of(count).items()}
        watch, port = self.watch_process(cameras, cluster)
        with watch:
            self.progress(f"{mode}, {count} cameras: gunwatch watch started (pid {watch.pid}); waiting for every "
                          f"camera {'to hold a lease and ' if cluster else ''}to be online")
            watch.wait_ready(self.store, READY_TIMEOUT_S)
            sampler = Sampler(Scraper(port, self.token), self.groups(watch), self.settings.store,
                              (lambda: self.placement(watch)) if cluster else None)
            names = sorted(cameras)
            self.progress(f"{mode}, {count} cameras: online; warm-up {self.settings.warmup_s:g} s")
            sampler.warm_up(names, self.settings.warmup_s)
            self.progress(f"{mode}, {count} cameras: measuring {self.settings.seconds:g} s")
            before = sampler.take(names)
            time.sleep(self.settings.seconds)
            watch.check_running()
            after = sampler.take(names)
            row = row_between(before, after, mode, self.settings.fps, os.cpu_count() or 1, decode_ms)
            self.progress(point_line(row))
            moved = measure_failover(self, watch) if failover else None
            self.progress(f"{mode}, {count} cameras: stopping the watch")
        self.check_stopped(watch)
        return row, moved

    def check_stopped(self, watch: WatchProcess) -> None:
        """Said, not raised: a watch that did not stop cleanly or kept leases (they lapse within lease_s)."""
        code = watch.stop()
        if code != 0:
            self.progress(f"warning: gunwatch watch exited with code {code}; its log: {watch.log_file}")
        kept = sorted(watch.leased(self.store)) if watch.address is not None else []
        if kept:
            self.progress(f"warning: leases not given back at the stop: {', '.join(kept)}")

def point_line(row: Row) -> str:
    store = f", store {row.store_rate('commits'):.1f} tx/s" if row.store is not None else ""
    return (f"{row.mode}, {row.cameras} cameras: sampled fps min {row.sampled_fps_min:.2f} of {row.target_fps:g} "
            f"({'keeps up' if row.keeps_up else 'falls behind'}), CPU {row.cpu_ms_per_camera_s:.0f} ms per "
            f"camera-second, machine {row.machine_busy_percent:.0f} % busy{store}")


def run_cluster_bench(settings: ClusterBenchSettings, progress: Callable[[str], None] = lambda _: None
                      ) -> ClusterBench:
    check_can_run()
    counts = sorted(set(settings.cameras))
    with tempfile.TemporaryDirectory(prefix="gunwatch-bench-cluster-") as temp, ExitStack() as running:
        folder = Path(temp)
        needed = settings.clips[: max(counts)]
        progress(f"preparing {len(needed)} clips for RTSP (their first {settings.clip_seconds:g} s, re-encoded "
                 "one slice per frame, a key frame a second)")
        cameras = serve_clips(list(needed), folder / "clips", settings.clip_seconds, progress)
        running.callback(cameras.close)
        bench = Bench(settings, folder, cameras, progress)
        running.callback(bench.close)
        result = ClusterBench(settings, cameras.clips)
        for count in sorted(settings.reference_counts):  # before the cluster starts: nothing else runs
            result.rows.append(bench.measure(count, cluster=False)[0])
        progress(f"starting the loopback Ray cluster: a head and {len(WORKERS)} worker nodes of "
                 f"{settings.worker_cpus} CPUs")
        bench.cluster = RayCluster(WORKERS, settings.worker_cpus).start()
        running.callback(bench.cluster.stop)
        progress(f"cluster at {bench.cluster.address}")
        if settings.evidence:
            result.evidence = measure_evidence(bench)
        for count in counts:
            row, failover = bench.measure(count, cluster=True, failover=settings.failover and count == counts[-1])
            result.rows.append(row)
            result.failover = failover or result.failover
    if settings.alerts:
        progress(f"alert fan-out: gunwatch bench alerts, {settings.alerts} events on the same store")
        result.alerts = run_alerts(settings.store, settings.alerts, progress)
    return result


DEFAULT_CLIPS = Path("../shared/videos/negatives")  # gun-free surveillance footage beside the checkout


def default_clips() -> list[Path]:
    """The gun-free footage beside the checkout when there, else the bundled demo clip (a gun: events too)."""
    return [DEFAULT_CLIPS] if DEFAULT_CLIPS.is_dir() else [DEMO_CLIP]


def parse_counts(text: str, option: str) -> tuple[int, ...]:
    """'2,4,8' -> (2, 4, 8); 'none' -> (); ValueError naming `option` otherwise."""
    if text.strip().lower() == "none":
        return ()
    parts = [part.strip() for part in text.split(",")]
    if not parts or not all(part.isdigit() and int(part) > 0 for part in parts):
        raise ValueError(f"{option} must be camera counts separated by commas, not {text!r}")
    return tuple(int(part) for part in parts)
