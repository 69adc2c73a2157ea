"""`gunwatch bench cluster`: its settings, tables and report on constructed rows (fast); then one real run
through the command: a loopback Ray cluster the bench starts, PostgreSQL, RTSP cameras, a short window, one
process alongside, a worker node killed. Structure and sanity only, never speed."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from gunwatch.bench.cluster_bench import ClusterBench, ClusterBenchSettings, EvidenceCost, Failover, parse_counts
from gunwatch.bench.cluster_rows import Snapshot, row_between
from gunwatch.bench.cluster_table import format_cluster_tables, plot_cluster
from gunwatch.bench.live_scrape import CameraCount
from gunwatch.bench.pg_stat import PgStat
from gunwatch.bench.rtsp_server import APT_PACKAGES, gst_rtsp_missing
from gunwatch.cli import app
from support.ray_cluster import require_ray
from support.stand_in import grey_clip

STORE = "postgresql+psycopg://u@127.0.0.1:5432/scratch"


def snapshot(at: float, sampled: int, cpu: dict[str, float], mode: str) -> Snapshot:
    cameras = {name: CameraCount(3 * sampled, 2 * sampled, sampled // 2, sampled - sampled // 2, 0, 35.0)
               for name in ("cam01", "cam02")}
    placement = {"cam01": "node_a", "cam02": "node_b"} if mode == "cluster" else {}
    groups = {group: {(index, 0): seconds} for index, (group, seconds) in enumerate(cpu.items())}
    names = {(index, 0): "ray::NodeAgent" if group.startswith("node") else group for index, group in enumerate(cpu)}
    return Snapshot(at, cameras, groups, PgStat(int(at), 0, 2 * int(at), 0, 0), (at, 2 * at), placement, names)


def bench() -> ClusterBench:
    settings = ClusterBenchSettings(STORE, (Path("a.mp4"),), cameras=(2,), seconds=10, failover=True)
    alone = row_between(snapshot(0, 0, {"driver": 0.0, "store": 0.0}, "one process"),
                        snapshot(10, 50, {"driver": 4.0, "store": 1.0}, "one process"), "one process", 5.0, 2)
    spread = {"head": 1.0, "node_a": 2.0, "node_b": 2.5, "driver": 0.5, "store": 1.0}
    cluster = row_between(snapshot(0, 0, dict.fromkeys(spread, 0.0), "cluster"),
                          snapshot(10, 40, spread, "cluster"), "cluster", 5.0, 2)
    alerts = {"events": 30, "bench_alerts": {"first_notification_s": {"p50": 0.012, "p95": 0.031}},
              "store_commits_per_event": 4.0, "store_rows_written_per_event": 9.5, "process_cpu_ms_per_event": 21.0}
    return ClusterBench(settings, [], [alone, cluster], Failover("node_a", ["cam01"], {"cam01": 6.5}, 15.0),
                        EvidenceCost(2, 2.5e6, 2.2e6, 5_100_000, 2.0), alerts)


def test_the_tables_show_each_row_its_groups_and_the_cluster_against_one_process() -> None:
    text = format_cluster_tables(bench())
    lines = text.splitlines()
    one = next(line for line in lines if line.startswith("one process"))
    cluster = next(line for line in lines if line.startswith("cluster") and "x" in line)
    assert one.split()[3:5] == ["5.00", "5.00"] and "yes" in one  # 50 sampled per camera in 10 s
    assert cluster.split()[2:4] == ["4.00", "4.00"] and " no " in cluster  # 4 of 5 fps: behind
    # CPU per camera-second: 4 s / 20 camera-s = 200 ms alone; 6 s / 20 = 300 ms in the cluster: 1.50x.
    assert " 200 " in one and " 300 " in cluster and "1.50x" in cluster
    header = next(line for line in lines if line.split()[:3] == ["mode", "cams", "head"])
    assert header.split()[2:7] == ["head", "node_a", "node_b", "driver", "store"]
    where = [line for line in lines if line.startswith("cluster") and "(1)" in line]
    assert len(where) == 1 and where[0].split()[2:7] == ["10%", "20%", "(1)", "25%", "(1)"]
    split = next(line for line in lines if line.startswith("cluster") and line.split()[2:4] == ["45%", "225"])
    assert split.split()[4:] == ["0%", "0%", "10%", "5%"]  # Ray's own on the workers, per node, head, driver
    assert "failover: node_a SIGKILLed with 1 camera(s)" in text and "p50 6.5 s" in text
    assert "2.50 MB per gun event" in text and "4.0 store transactions" in text


def test_the_report_says_which_costs_it_has_and_compares_with_one_process(tmp_path: Path) -> None:
    report = bench().to_json_dict()
    cluster = next(row for row in report["rows"] if row["mode"] == "cluster")
    assert cluster["cpu_per_camera_s_vs_one_process"] == pytest.approx(1.5)
    assert report["settings"]["store"] == STORE and report["failover"]["max_s"] == 6.5
    assert set(report["costs"]) == {"decode", "inference", "node_cpu", "store_writes", "alert_fanout", "evidence",
                                    "failover"}
    json.dumps(report)  # plain JSON
    assert plot_cluster(bench(), tmp_path / "cluster.png").stat().st_size > 0


def test_settings_refuse_sqlite_and_counts_are_parsed() -> None:
    with pytest.raises(ValueError, match="PostgreSQL"):
        ClusterBenchSettings("sqlite:///x.db", (Path("a.mp4"),))
    assert parse_counts("2, 4,8", "--cameras") == (2, 4, 8) and parse_counts("none", "--reference") == ()
    with pytest.raises(ValueError, match="--cameras"):
        parse_counts("2,x", "--cameras")
    settings = ClusterBenchSettings(STORE, (Path("a.mp4"),), cameras=(8, 2, 4))
    assert settings.reference_counts == (2,)


def test_a_short_real_run_on_a_loopback_cluster(tmp_path: Path, postgres_url: str) -> None:
    require_ray()
    missing = gst_rtsp_missing()
    if missing:
        pytest.skip(f"needs GStreamer's RTSP server ({missing}); on Debian: apt-get install {APT_PACKAGES}")
    clips = tmp_path / "clips"
    clips.mkdir()
    grey_clip(clips / "dim.mp4", 40)
    grey_clip(clips / "bright.mp4", 120)
    out = tmp_path / "out"
    result = CliRunner().invoke(app, [
        "bench", "cluster", "--store", postgres_url, "--clips", str(clips), "--cameras", "2", "--seconds", "3",
        "--warmup", "1", "--lease", "4", "--alerts", "0", "--no-evidence", "--failover", "--out", str(out), "--json",
    ])
    assert result.exit_code == 0, result.output
    report = json.loads((out / "cluster.json").read_text())
    assert json.loads(result.stdout.strip().splitlines()[-1]) == report
    assert (out / "cluster.png").stat().st_size > 0
    assert [(row["mode"], row["cameras"]) for row in report["rows"]] == [("one process", 2), ("cluster", 2)]
    alone, cluster = report["rows"]
    for row in report["rows"]:
        assert [point["camera"] for point in row["per_camera"]] == ["cam01", "cam02"]
        assert all(point["sampled_fps"] > 0 and point["decoded_fps"] > 0 for point in row["per_camera"])
        assert row["product_cpu_s"] > 0 and row["store"]["commits"] > 0 and row["infer_ms"] > 0
    assert alone["cpu_s"]["driver"] > 0 and set(alone["group_cameras"]) == {"driver"}
    # One camera on each worker node; every node and the driver spent CPU in the window.
    assert cluster["group_cameras"] == {"node_a": 1, "node_b": 1}
    assert all(cluster["cpu_s"][group] > 0 for group in ("head", "node_a", "node_b", "driver")), cluster["cpu_s"]
    assert cluster["agent_cpu_s"] > 0 and cluster["ray_worker_cpu_s"] > 0, cluster["cpu_by_name"]  # agents found
    assert cluster["cpu_per_camera_s_vs_one_process"] > 0
    assert report["clips"][0]["decode_ms_per_frame"] > 0
    failover = report["failover"]
    assert failover["node"] in ("node_a", "node_b") and len(failover["cameras"]) == 1
    assert all(seconds > 0 for seconds in failover["seconds"].values())
    assert "failover:" in result.stderr and "cluster, 2 cameras: measuring" in result.stderr
