"""The tables and the plot of `gunwatch bench cluster` (bench/cluster_bench.py)."""

from __future__ import annotations

import math
import textwrap
from pathlib import Path

from gunwatch.bench.cluster_bench import ClusterBench
from gunwatch.bench.cluster_rows import AGENT_PROCESS, DRIVER_GROUP, HEAD_GROUP, STORE_GROUP, Row
from gunwatch.bench.pipeline_capacity import KEEPS_UP_SHARE


def _num(value: float | None, digits: int = 0) -> str:
    return "-" if value is None or math.isnan(value) else f"{value:.{digits}f}"


def capacity_table(bench: ClusterBench) -> str:
    header = (f"{'mode':<11} {'cams':>4} {'fps min':>7} {'fps mean':>8} {'target':>6} {'keeps up':<8} "
              f"{'analysed':>8} {'infer ms':>8} {'decode ms/cam-s':>15} {'CPU ms/cam-s':>12} {'vs 1 proc':>9} "
              f"{'CPU ms/frame':>12} {'machine':>7}")
    lines = [header, "-" * len(header)]
    for row in bench.rows:
        reference = bench.reference_for(row.cameras)
        ratio = (f"{row.cpu_ms_per_camera_s / reference.cpu_ms_per_camera_s:.2f}x"
                 if reference is not None and row.mode == "cluster" else "-")
        lines.append(
            f"{row.mode:<11} {row.cameras:>4} {row.sampled_fps_min:>7.2f} {row.sampled_fps_mean:>8.2f} "
            f"{row.target_fps:>6.3g} {'yes' if row.keeps_up else 'no':<8} {row.analysed_share:>8.0%} "
            f"{row.infer_ms:>8.0f} {_num(row.decode_ms_per_camera_s):>15} {row.cpu_ms_per_camera_s:>12.0f} "
            f"{ratio:>9} {_num(row.cpu_ms_per_analysed):>12} {row.machine_busy_percent:>6.0f}%")
    return "\n".join(lines)


def groups_of(rows: list[Row]) -> list[str]:
    order = [HEAD_GROUP, *sorted({g for row in rows for g in row.cpu_s} - {HEAD_GROUP, DRIVER_GROUP, STORE_GROUP}),
             DRIVER_GROUP, STORE_GROUP]
    return [group for group in order if any(group in row.cpu_s for row in rows)]


def where_table(bench: ClusterBench) -> str:
    """Where the CPU goes (% of one core, cameras run there) and what the store does."""
    groups = groups_of(bench.rows)
    header = (f"{'mode':<11} {'cams':>4} " + " ".join(f"{group:>12}" for group in groups)
              + f" {'tx/s':>6} {'rows/s':>6} {'tx/cam-s':>8} {'rows/cam-s':>10} {'events':>6}")
    lines = [header, "-" * len(header)]
    for row in bench.rows:
        cells = []
        for group in groups:
            if group not in row.cpu_s:
                cells.append(f"{'-':>12}")
                continue
            share = f"{100 * row.cpu_s[group] / row.seconds:.0f}%"
            count = row.group_cameras.get(group)
            cells.append(f"{share + (f' ({count})' if count and group != DRIVER_GROUP else ''):>12}")
        commits, written = row.store_rate("commits"), row.store_rate("rows_written")
        lines.append(
            f"{row.mode:<11} {row.cameras:>4} " + " ".join(cells)
            + f" {_num(commits, 1):>6} {_num(written, 1):>6} "
            f"{_num(commits / row.cameras if commits is not None else None, 2):>8} "
            f"{_num(written / row.cameras if written is not None else None, 2):>10} {row.events:>6}")
    return "\n".join(lines)


def split_table(bench: ClusterBench) -> str:
    """The cluster rows' worker CPU split: the agents (the cameras' pipelines) and Ray's own processes beside."""
    header = (f"{'mode':<11} {'cams':>4} {'agents':>7} {'agent ms/cam-s':>14} {'Ray on workers':>14} "
              f"{'per node':>8} {'head':>5} {'driver':>6}")
    lines = [header, "-" * len(header)]
    for row in bench.rows:
        if row.mode != "cluster":
            continue
        nodes = max(len(row.worker_groups), 1)
        lines.append(
            f"{row.mode:<11} {row.cameras:>4} {100 * row.agent_cpu_s / row.seconds:>6.0f}% "
            f"{1000 * row.agent_cpu_s / row.camera_seconds:>14.0f} {100 * row.ray_worker_cpu_s / row.seconds:>13.0f}% "
            f"{100 * row.ray_worker_cpu_s / row.seconds / nodes:>7.0f}% "
            f"{100 * row.cpu_s.get(HEAD_GROUP, 0.0) / row.seconds:>4.0f}% "
            f"{100 * row.cpu_s.get(DRIVER_GROUP, 0.0) / row.seconds:>5.0f}%")
    return "\n".join(lines)


def extras_lines(bench: ClusterBench) -> list[str]:
    lines = []
    if bench.failover is not None:
        summary = bench.failover.to_json_dict()
        lines.append(f"failover: {bench.failover.node} SIGKILLed with {len(bench.failover.cameras)} camera(s); online "
                     f"on the other node p50 {_num(summary['p50_s'], 1)} s, max {_num(summary['max_s'], 1)} s after "
                     f"the kill (lease_s {bench.failover.lease_s:g})")
    if bench.evidence is not None:
        e = bench.evidence
        lines.append(f"evidence: {e.bytes_per_event / 1e6:.2f} MB per gun event (clip "
                     f"{e.clip_bytes_per_event / 1e6:.2f} MB + snapshots), {e.events} events of the demo clip "
                     f"(close_after_s {e.close_after_s:g}, rolls: the product's defaults)")
    if bench.alerts is not None:
        alerts = bench.alerts
        first = alerts["bench_alerts"]["first_notification_s"]
        lines.append(f"alert fan-out (gunwatch bench alerts, {alerts['events']} events): first notification p50 "
                     f"{_num(1000 * first['p50'])} ms, p95 {_num(1000 * first['p95'])} ms; "
                     f"{alerts['store_commits_per_event']:.1f} store transactions and "
                     f"{alerts['store_rows_written_per_event']:.1f} rows written per event while it ran (the outbox "
                     "workers' polling included); "
                     f"{alerts['process_cpu_ms_per_event']:.0f} CPU ms per event (receivers included)")
    return lines


def legend(bench: ClusterBench) -> str:
    s = bench.settings
    cores = bench.rows[0].cores if bench.rows else 0
    return textwrap.fill(
        f"{len(bench.clips)} recorded clips served over RTSP (looping; camera i plays clip i mod {len(bench.clips)}), "
        f"detect fps {s.fps:g}, the product's defaults (motion gating on, second look on, tiles off); "
        f"{s.seconds:g} s measured per row after a {s.warmup_s:g} s warm-up; a loopback Ray cluster of a head and "
        f"2 worker nodes ({s.worker_cpus} CPUs each) on this {cores}-core machine, PostgreSQL store. "
        "sampled = frames sampled per second (analysed + motion-gated), the worst camera and the mean; keeps up = "
        f"every camera sampled at >= {KEEPS_UP_SHARE:.0%} of its target; analysed = sampled frames that ran the "
        "detector; infer ms = detector ms per analysed frame (recent mean, wall time); decode = estimated decode "
        "CPU ms per camera-second (the clips' decode cost times frames decoded); CPU ms = CPU ms of every gunwatch "
        "process (head, worker nodes, driver; not the store) per camera-second; vs 1 proc = that over one process's "
        "with the same cameras in this run; ms/frame = the same CPU per analysed frame; machine = the whole "
        "machine's CPU busy (RTSP servers and others included), % of all cores. Second table: CPU of each process "
        "group in % of one core (cameras it ran), store = the PostgreSQL server's processes; tx/s and rows/s: the "
        "database's commits and rows inserted+updated+deleted per second (pg_stat_database); events: threat events "
        "opened in the window (gun-free footage: false alarms). Third table, the cluster's worker nodes: agents = the "
        f"{AGENT_PROCESS} actors (the cameras' pipelines: decode, motion, detector, writers) in % of one core and per "
        "camera-second; Ray on workers = the rest of those nodes (raylet, `ray start --block`, Ray's dashboard and "
        "runtime-env agents, idle workers), in all and per node; head = the head node (GCS, the alerts actor); "
        "driver = the supervisor's `gunwatch watch` (console, /metrics, retention)", width=118)


def format_cluster_tables(bench: ClusterBench) -> str:
    extras = extras_lines(bench)
    split = [split_table(bench), ""] if any(row.mode == "cluster" for row in bench.rows) else []
    parts = [capacity_table(bench), "", where_table(bench), "", *split, *extras, *([""] if extras else []),
             legend(bench)]
    return "\n".join(line.rstrip() for line in "\n".join(parts).splitlines())


def plot_cluster(bench: ClusterBench, path: Path) -> Path:
    """Sampled fps (worst camera) and gunwatch's CPU against the camera count, cluster and one process."""
    import matplotlib

    matplotlib.use("Agg")  # headless
    import matplotlib.pyplot as plt

    figure, (fps, cpu) = plt.subplots(2, 1, sharex=True, figsize=(8, 6))
    try:
        for mode, marker, color in (("cluster", "o-", "tab:blue"), ("one process", "s--", "tab:green")):
            rows = sorted((row for row in bench.rows if row.mode == mode), key=lambda row: row.cameras)
            if not rows:
                continue
            counts = [row.cameras for row in rows]
            fps.plot(counts, [row.sampled_fps_min for row in rows], marker, color=color, label=f"{mode}: worst camera")
            fps.plot(counts, [row.sampled_fps_mean for row in rows], marker, color=color, alpha=0.4,
                     label=f"{mode}: mean")
            cpu.plot(counts, [row.cpu_percent for row in rows], marker, color=color, label=f"{mode}: gunwatch")
            cpu.plot(counts, [row.machine_busy_percent for row in rows], marker, color=color, alpha=0.4,
                     label=f"{mode}: whole machine")
        fps.set_ylim(bottom=0)
        cpu.set_ylim(0, 105)
        target = bench.settings.fps
        fps.axhline(target, color="0.5", linewidth=0.8)
        fps.axhline(KEEPS_UP_SHARE * target, color="0.5", linewidth=0.8, linestyle=":")
        fps.set_ylabel("frames sampled / s per camera")
        fps.set_title("gunwatch bench cluster")
        cpu.set_ylabel("CPU, % of all cores")
        cpu.set_xlabel("cameras")
        for axes in (fps, cpu):
            axes.grid(alpha=0.3)
            axes.legend(loc="best", fontsize="small")
        path.parent.mkdir(parents=True, exist_ok=True)
        figure.savefig(path, dpi=100, bbox_inches="tight")
    finally:
        plt.close(figure)  # pyplot keeps open figures alive
    return path
