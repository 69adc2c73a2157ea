"""One measured point of `gunwatch bench cluster`: N cameras, one process or a cluster, between two snapshots.

A snapshot holds every camera's live counters (`live_scrape`), the CPU time of each process group (`proc_cpu`:
the cluster's head and worker nodes, the watch driver, the PostgreSQL server when it runs here), the store's
database counters (`pg_stat`) and the whole machine's busy time. A row is the difference of two, taken after the
warm-up, `seconds` apart. Keeps up: every camera sampled at >= 95 % of its detect fps, as `bench pipeline`
judges one process (`pipeline_capacity`): sources keep only their newest frame, so a pipeline that cannot keep
up samples less often instead of building a queue.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, field

from gunwatch.bench.live_scrape import CameraCount
from gunwatch.bench.pg_stat import PgStat
from gunwatch.bench.pipeline_capacity import KEEPS_UP_SHARE
from gunwatch.bench.proc_cpu import ProcessKey, cpu_between, cpu_by_name

STORE_GROUP = "store"  # the PostgreSQL server: reported beside the product's CPU, not inside it
DRIVER_GROUP = "driver"  # the `gunwatch watch` process (one process: all of it; a cluster: the supervisor, console)
HEAD_GROUP = "head"
AGENT_PROCESS = "ray::NodeAgent"  # a worker node's agent actor (its cameras' pipeline), as /proc names it


@dataclass(frozen=True)
class Snapshot:
    at: float  # wall clock, the /metrics scrape's midpoint
    cameras: Mapping[str, CameraCount]
    groups: Mapping[str, Mapping[ProcessKey, float]]  # group -> CPU seconds of each of its processes
    store: PgStat | None  # None: not read
    machine: tuple[float, float]  # (busy, total) CPU seconds of the whole machine since boot
    placement: Mapping[str, str] = field(default_factory=dict)  # camera -> the group (worker node) running it
    names: Mapping[ProcessKey, str] = field(default_factory=dict)  # the groups' processes' command names


@dataclass(frozen=True)
class CameraPoint:
    camera: str
    group: str  # the worker node running it; the driver in one process
    sampled_fps: float  # frames sampled per second (analysed + still)
    analysed_fps: float
    decoded_fps: float
    dropped_fps: float
    infer_ms: float  # its recent detector ms per analysed frame at the window's end (content: people, second looks)


@dataclass(frozen=True)
class Row:
    mode: str  # "cluster" or "one process"
    cameras: int
    seconds: float  # the measured window
    target_fps: float  # detect fps asked of every camera
    cores: int  # of this machine
    cpu_s: dict[str, float]  # CPU seconds in the window per group (head, worker nodes, driver, store)
    cpu_by_name: dict[str, dict[str, float]]  # the same per group, split by command name
    group_cameras: dict[str, int]  # cameras each group ran
    analysed: int  # frames through the detector, every camera
    still: int  # sampled frames the motion gate skipped
    decoded: int
    events: int  # threat events opened in the window (gun-free footage: false alarms)
    infer_ms: float  # detector ms per analysed frame: the cameras' recent means at the window's end, averaged
    machine_busy_percent: float  # the whole machine's CPU busy in the window, % of all cores
    store: PgStat | None  # the database's counters over the window
    per_camera: list[CameraPoint]
    decode_ms_per_frame: float | None = None  # the clips' decode cost (PyAV, measured apart), weighted by frames

    @property
    def sampled_fps_min(self) -> float:
        return min((point.sampled_fps for point in self.per_camera), default=0.0)

    @property
    def sampled_fps_mean(self) -> float:
        return sum(point.sampled_fps for point in self.per_camera) / max(len(self.per_camera), 1)

    @property
    def keeps_up(self) -> bool:
        return bool(self.per_camera) and self.sampled_fps_min >= KEEPS_UP_SHARE * self.target_fps

    @property
    def analysed_share(self) -> float:
        return self.analysed / max(self.analysed + self.still, 1)

    @property
    def product_cpu_s(self) -> float:
        """gunwatch's own processes: head, worker nodes and driver (the store apart)."""
        return sum(seconds for group, seconds in self.cpu_s.items() if group != STORE_GROUP)

    @property
    def camera_seconds(self) -> float:
        return self.cameras * self.seconds

    @property
    def cpu_ms_per_camera_s(self) -> float:
        return 1000 * self.product_cpu_s / self.camera_seconds

    @property
    def cpu_ms_per_analysed(self) -> float | None:
        return 1000 * self.product_cpu_s / self.analysed if self.analysed else None

    @property
    def cpu_percent(self) -> float:
        """gunwatch's processes' CPU over the window, % of all cores."""
        return 100 * self.product_cpu_s / self.seconds / self.cores

    def group_ms_per_camera_s(self, group: str) -> float | None:
        count = self.group_cameras.get(group, 0)
        return 1000 * self.cpu_s.get(group, 0.0) / (count * self.seconds) if count else None

    @property
    def worker_groups(self) -> list[str]:
        return sorted(set(self.cpu_s) - {HEAD_GROUP, DRIVER_GROUP, STORE_GROUP})

    @property
    def agent_cpu_s(self) -> float:
        """The worker nodes' agents (the cameras' pipelines), without the rest of their nodes."""
        return sum(self.cpu_by_name.get(group, {}).get(AGENT_PROCESS, 0.0) for group in self.worker_groups)

    @property
    def ray_worker_cpu_s(self) -> float:
        """Everything else on the worker nodes: raylet, `ray start`, Ray's own agents, idle workers."""
        return sum(self.cpu_s[group] for group in self.worker_groups) - self.agent_cpu_s

    @property
    def decode_ms_per_camera_s(self) -> float | None:
        """Decoding's estimated share: the clips' decode ms per frame times the frames decoded per second."""
        if self.decode_ms_per_frame is None:
            return None
        return self.decode_ms_per_frame * self.decoded / self.camera_seconds

    def store_rate(self, what: str) -> float | None:
        """Per second over the window: `commits` or `rows_written`."""
        return None if self.store is None else getattr(self.store, what) / self.seconds

    def to_json_dict(self) -> dict[str, object]:
        data = asdict(self)
        data["store"] = None if self.store is None else {**asdict(self.store), "rows_written": self.store.rows_written}
        per_s = {"commits_per_s": self.store_rate("commits"), "rows_written_per_s": self.store_rate("rows_written")}
        return {**data, "keeps_up": self.keeps_up, "sampled_fps_min": self.sampled_fps_min,
                "sampled_fps_mean": self.sampled_fps_mean, "analysed_share": self.analysed_share,
                "product_cpu_s": self.product_cpu_s, "cpu_percent": self.cpu_percent,
                "cpu_ms_per_camera_s": self.cpu_ms_per_camera_s, "cpu_ms_per_analysed": self.cpu_ms_per_analysed,
                "group_cpu_ms_per_camera_s": {group: self.group_ms_per_camera_s(group) for group in self.group_cameras},
                "decode_ms_per_camera_s": self.decode_ms_per_camera_s,
                "agent_cpu_s": self.agent_cpu_s, "ray_worker_cpu_s": self.ray_worker_cpu_s,
                "agent_cpu_ms_per_camera_s": 1000 * self.agent_cpu_s / self.camera_seconds,
                "store_per_s": per_s,
                "store_per_camera_s": {key: (value / self.cameras if value is not None else None)
                                       for key, value in per_s.items()}}


def row_between(before: Snapshot, after: Snapshot, mode: str, target_fps: float, cores: int,
                decode_ms: Mapping[str, float] | None = None) -> Row:
    """The window between two snapshots. `decode_ms`: camera -> its clip's decode ms per frame, when measured."""
    seconds = after.at - before.at
    if seconds <= 0:
        raise ValueError(f"the snapshots are not in order ({before.at} then {after.at})")
    missing = sorted(set(after.cameras) - set(before.cameras))
    if missing:
        raise ValueError(f"cameras missing from the first snapshot: {', '.join(missing)}")
    points, decoded_by = [], {}
    for name, now in sorted(after.cameras.items()):
        then = before.cameras[name]
        delta = {key: getattr(now, key) - getattr(then, key) for key in ("analysed", "still", "frames_in", "dropped")}
        decoded_by[name] = delta["frames_in"]
        points.append(CameraPoint(name, after.placement.get(name, DRIVER_GROUP),
                                  (delta["analysed"] + delta["still"]) / seconds, delta["analysed"] / seconds,
                                  delta["frames_in"] / seconds, delta["dropped"] / seconds, now.infer_ms))
    counts = list(after.cameras.values())
    group_cameras: dict[str, int] = {}
    for point in points:
        group_cameras[point.group] = group_cameras.get(point.group, 0) + 1
    busy = (after.machine[0] - before.machine[0]) / max(after.machine[1] - before.machine[1], 1e-9)
    analysed_ms = [count.infer_ms for count in counts if count.analysed]
    decoded = sum(decoded_by.values())
    decode_ms_per_frame = None
    if decode_ms is not None and decoded:
        decode_ms_per_frame = sum(decode_ms[name] * frames for name, frames in decoded_by.items()) / decoded
    return Row(
        mode=mode, cameras=len(points), seconds=seconds, target_fps=target_fps, cores=cores,
        cpu_s={group: cpu_between(before.groups.get(group, {}), times) for group, times in after.groups.items()},
        cpu_by_name={group: cpu_by_name(before.groups.get(group, {}), times, after.names)
                     for group, times in after.groups.items()},
        group_cameras=group_cameras,
        analysed=sum(c.analysed for c in counts) - sum(before.cameras[n].analysed for n in after.cameras),
        still=sum(c.still for c in counts) - sum(before.cameras[n].still for n in after.cameras),
        decoded=decoded,
        events=sum(c.events for c in counts) - sum(before.cameras[n].events for n in after.cameras),
        infer_ms=sum(analysed_ms) / len(analysed_ms) if analysed_ms else 0.0,
        machine_busy_percent=100 * busy,
        store=after.store - before.store if after.store is not None and before.store is not None else None,
        per_camera=points, decode_ms_per_frame=decode_ms_per_frame,
    )
