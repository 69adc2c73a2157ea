"""A measured point of `gunwatch bench cluster` from two snapshots, on constructed counters."""

from __future__ import annotations

import pytest

from gunwatch.bench.cluster_rows import Snapshot, row_between
from gunwatch.bench.live_scrape import CameraCount
from gunwatch.bench.pg_stat import PgStat


def snapshot(at: float, counts: dict[str, tuple[int, int, int]], cpu: dict[str, float], commits: int,
             busy: float) -> Snapshot:
    """counts: camera -> (frames in, analysed, still); cpu: group -> CPU seconds of its one process."""
    cameras = {name: CameraCount(frames_in, 0, analysed, still, 0, 40.0) for name, (frames_in, analysed, still)
               in counts.items()}
    groups = {group: {(index + 1, 0): seconds} for index, (group, seconds) in enumerate(cpu.items())}
    names = {key: "ray::NodeAgent" if group.startswith("node") else group for group, times in groups.items()
             for key in times}
    if "node_b" in groups:  # its raylet too, at a tenth of the agent's time
        groups["node_b"] = {**groups["node_b"], (99, 0): cpu["node_b"] / 10}
        names[(99, 0)] = "raylet"
    return Snapshot(at, cameras, groups, PgStat(commits, 0, commits, 2 * commits, 0), (busy, 2 * at),
                    {"dock": "node_a", "gate": "node_b", "yard": "node_b"}, names)


def test_a_row_is_the_difference_of_two_snapshots() -> None:
    before = snapshot(100.0, {"dock": (100, 10, 20), "gate": (100, 10, 20), "yard": (50, 5, 5)},
                      {"head": 1.0, "node_a": 10.0, "node_b": 20.0, "driver": 2.0, "store": 3.0}, 1000, 150.0)
    after = snapshot(110.0, {"dock": (250, 40, 40), "gate": (250, 30, 50), "yard": (200, 30, 10)},
                     {"head": 1.5, "node_a": 14.0, "node_b": 27.0, "driver": 2.5, "store": 4.0}, 1300, 160.0)
    row = row_between(before, after, "cluster", 5.0, 2, {"dock": 2.0, "gate": 2.0, "yard": 4.0})
    assert row.seconds == 10.0 and row.cameras == 3
    assert [point.sampled_fps for point in row.per_camera] == [5.0, 5.0, 3.0]  # dock, gate, yard
    assert row.sampled_fps_min == 3.0 and not row.keeps_up
    assert row.analysed == 75 and row.still == 55 and row.decoded == 450
    assert row.cpu_s == pytest.approx({"head": 0.5, "node_a": 4.0, "node_b": 7.7, "driver": 0.5, "store": 1.0})
    assert row.cpu_by_name["node_b"] == pytest.approx({"ray::NodeAgent": 7.0, "raylet": 0.7})
    assert row.agent_cpu_s == pytest.approx(11.0) and row.ray_worker_cpu_s == pytest.approx(0.7)
    assert row.group_cameras == {"node_a": 1, "node_b": 2}
    assert row.product_cpu_s == pytest.approx(12.7)  # the store apart
    assert row.cpu_ms_per_camera_s == pytest.approx(12700 / 30)
    assert row.cpu_ms_per_analysed == pytest.approx(12700 / 75)
    assert row.group_ms_per_camera_s("node_b") == pytest.approx(7700 / 20)
    assert row.cpu_percent == pytest.approx(63.5)  # 1.27 cores of 2
    assert [point.infer_ms for point in row.per_camera] == [40.0, 40.0, 40.0]
    assert row.machine_busy_percent == pytest.approx(50.0)  # 10 busy of 20 core-seconds
    assert row.store == PgStat(300, 0, 300, 600, 0) and row.store_rate("rows_written") == pytest.approx(90.0)
    # decode: (150 + 150) frames at 2 ms, 150 at 4 ms, over 30 camera-seconds
    assert row.decode_ms_per_camera_s == pytest.approx((300 * 2 + 150 * 4) / 30)
    data = row.to_json_dict()
    assert data["keeps_up"] is False and data["store_per_camera_s"]["commits_per_s"] == pytest.approx(10.0)


def test_every_camera_at_95_percent_of_its_fps_keeps_up() -> None:
    before = snapshot(0.0, {"dock": (0, 0, 0)}, {"driver": 0.0}, 0, 0.0)
    after = snapshot(20.0, {"dock": (300, 10, 85)}, {"driver": 4.0}, 50, 10.0)  # 95 sampled in 20 s
    row = row_between(before, after, "one process", 5.0, 2)
    assert row.sampled_fps_min == pytest.approx(4.75) and row.keeps_up
    assert row.decode_ms_per_camera_s is None


def test_snapshots_out_of_order_or_missing_a_camera_are_refused() -> None:
    first = snapshot(10.0, {"dock": (0, 0, 0)}, {}, 0, 0.0)
    with pytest.raises(ValueError, match="not in order"):
        row_between(first, first, "cluster", 5.0, 2)
    later = snapshot(20.0, {"dock": (1, 1, 0), "gate": (1, 1, 0)}, {}, 0, 1.0)
    with pytest.raises(ValueError, match="gate"):
        row_between(first, later, "cluster", 5.0, 2)
