"""`gunwatch cluster status` and `camera status` from the store alone: the leases say which node watches which
camera; a cluster that does not answer is said, and the store's view still shown. Real processes, SQLite."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from gunwatch.events.store import EventStore
from gunwatch.events.store.leases import CameraLeases


def gunwatch(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "gunwatch.cli", *args], capture_output=True, text=True, timeout=120)


def test_cluster_status_shows_each_nodes_cameras_from_the_leases_when_no_cluster_answers(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'events.db'}"
    with EventStore(url) as store:
        for camera in ("lobby", "dock", "yard"):
            store.record_health(camera, "online", "receiving frames")
        leases = CameraLeases(store)
        assert leases.acquire("lobby", "agent-a", "gw-worker1/10.0.0.11", ttl_s=600)
        assert leases.acquire("dock", "agent-b", "gw-worker2/10.0.0.12", ttl_s=600)
        gone = leases.acquire("yard", "agent-b", "gw-worker2/10.0.0.12", ttl_s=600)
        assert gone is not None
        leases.release(gone)  # stopped there: running nowhere now

    # 127.0.0.1:9 (discard): nothing answers there as a Ray head does.
    status = gunwatch("cluster", "status", "--store", url, "--address", "127.0.0.1:9", "--json")

    assert status.returncode == 0, status.stderr
    shown = json.loads(status.stdout)
    assert shown["nodes"] == [{"node": "gw-worker1/10.0.0.11", "cameras": ["lobby"]},
                              {"node": "gw-worker2/10.0.0.12", "cameras": ["dock"]}]
    assert {c["camera"]: (c["node"], c["holder"]) for c in shown["cameras"]} == {
        "lobby": ("gw-worker1/10.0.0.11", "agent-a"), "dock": ("gw-worker2/10.0.0.12", "agent-b"),
        "yard": (None, None)}
    assert shown["cluster"] is None and "127.0.0.1:9" in shown["cluster_error"]
    assert "2 of 3 camera(s) running on 2 node(s)" in status.stderr
    assert "not running anywhere: yard" in status.stderr and "cluster not asked: " in status.stderr

    listed = gunwatch("camera", "status", "--store", url)
    assert listed.returncode == 0, listed.stderr
    assert "lobby: runs on gw-worker1/10.0.0.11 (lease held by agent-a" in listed.stderr
    assert "yard: runs on" not in listed.stderr


def test_camera_status_says_nothing_of_nodes_without_a_cluster(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'events.db'}"
    with EventStore(url) as store:
        store.record_health("lobby", "online", "receiving frames")
    listed = gunwatch("camera", "status", "--store", url)
    assert listed.returncode == 0 and "runs on" not in listed.stderr, listed.stderr
