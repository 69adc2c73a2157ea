"""The `ray_cluster` fixture: a real local Ray cluster (`gunwatch.bench.ray_local.RayCluster`: a head and two
worker nodes as separate process groups on loopback) for a test module.

    cluster.address            # "127.0.0.2:PORT", for --cluster / ray.init
    cluster.kill("node_a")     # SIGKILL the whole process group of that node

`ray_cluster` (module scope; a test module imports `ray_cluster_fixture`) skips when ray is not installed, and
fails then when GUNWATCH_REQUIRE_RAY=1 (CI installs it).
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from gunwatch.bench.ray_local import RayCluster, free_port, ray_missing

__all__ = ["RayCluster", "free_port", "ray_cluster_fixture", "ray_missing", "require_ray"]


def require_ray() -> None:
    """Skip the test when Ray is not usable here; fail instead when GUNWATCH_REQUIRE_RAY=1 (CI)."""
    missing = ray_missing()
    if missing:
        if os.environ.get("GUNWATCH_REQUIRE_RAY") == "1":
            pytest.fail(f"GUNWATCH_REQUIRE_RAY=1 but Ray is not usable: {missing}")
        pytest.skip(f"needs Ray ({missing})")


@pytest.fixture(name="ray_cluster", scope="module")
def ray_cluster_fixture() -> Iterator[RayCluster]:
    require_ray()
    cluster = RayCluster(["node_a", "node_b"]).start()
    try:
        yield cluster
    finally:
        cluster.stop()
