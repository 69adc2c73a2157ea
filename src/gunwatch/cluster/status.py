"""`gunwatch cluster status`: where each camera runs (its lease in the store), its health, and the agents' own view.

The store answers always (leases: holder, node, expiry; health): it is the truth about which node may watch
a camera. When the cluster answers too, each agent tells its cameras' live rows, its detector (workers,
frames waiting, calls running) and its queue of items for the alerts actor.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from gunwatch.cluster.actors import AGENT_PREFIX
from gunwatch.events.store import EventStore

AGENT_STATUS_TIMEOUT_S = 10.0


@dataclass(frozen=True)
class CameraWhere:
    camera: str
    node: str | None  # None: no live lease (not running anywhere now)
    holder: str | None
    expires_in_s: float | None
    state: str | None
    reason: str | None


def camera_places(store: EventStore, now: float | None = None) -> list[CameraWhere]:
    """Every camera the store knows, with its live lease if it has one."""
    from gunwatch.events.store.leases import CameraLeases

    now = time.time() if now is None else now
    leases = CameraLeases(store).live(now)
    rows = []
    for camera in store.camera_status(recent=0):
        lease = leases.pop(camera.name, None)
        rows.append(CameraWhere(camera.name, lease.node if lease else None, lease.holder if lease else None,
                                lease.expires_at - now if lease else None, camera.state, camera.reason))
    rows += [CameraWhere(name, lease.node, lease.holder, lease.expires_at - now, None, None)
             for name, lease in sorted(leases.items())]
    return rows


def agents_status(namespace: str) -> tuple[list[dict[str, Any]], list[str]]:
    """The live status of every agent in `namespace` of the connected cluster, and the agents that did not
    answer."""
    import ray

    names = sorted(actor["name"] for actor in ray.util.list_named_actors(all_namespaces=True)
                   if actor.get("namespace") == namespace and actor["name"].startswith(AGENT_PREFIX))
    calls = {}
    for name in names:
        try:
            calls[name] = ray.get_actor(name, namespace=namespace).status.remote()
        except ValueError:  # gone meanwhile
            continue
    ray.wait(list(calls.values()), num_returns=len(calls), timeout=AGENT_STATUS_TIMEOUT_S)
    answered, silent = [], []
    for name, ref in calls.items():
        try:
            answered.append(ray.get(ref, timeout=0))
        except Exception:
            silent.append(name)
    return answered, silent


def status_json(places: list[CameraWhere], agents: list[dict[str, Any]] | None, silent: list[str],
                error: str | None) -> dict[str, Any]:
    nodes: dict[str, list[str]] = {}
    for place in places:
        if place.node is not None:
            nodes.setdefault(place.node, []).append(place.camera)
    return {"nodes": [{"node": node, "cameras": cameras} for node, cameras in sorted(nodes.items())],
            "cameras": [place.__dict__ for place in places],
            "cluster": None if agents is None else {"agents": agents, "silent": silent},
            "cluster_error": error}


def format_status(data: dict[str, Any]) -> str:
    places = data["cameras"]
    running = sum(1 for place in places if place["node"])
    lines = [f"{running} of {len(places)} camera(s) running on {len(data['nodes'])} node(s) (leases in the store)"]
    for node in data["nodes"]:
        lines.append(f"node {node['node']}: {', '.join(node['cameras'])}")
    idle = [place["camera"] for place in places if not place["node"]]
    if idle:
        lines.append(f"not running anywhere: {', '.join(idle)}")
    for place in places:
        where = f"on {place['node']} (lease {place['expires_in_s']:.0f} s left)" if place["node"] else "no lease"
        lines.append(f"  {place['camera']}: {place['state'] or 'no health yet'} {where}"
                     + (f" - {place['reason']}" if place["reason"] else ""))
    cluster = data["cluster"]
    if cluster is None:
        lines.append(f"cluster not asked: {data['cluster_error']}" if data["cluster_error"] else "cluster not asked")
        return "\n".join(lines)
    for agent in cluster["agents"]:
        detector = agent["detector"]
        lines.append(f"agent {agent['agent']} on {agent['node']}: {len(agent['cameras'])} camera(s), detector "
                     f"{detector['workers']} worker(s), {detector['running']} call(s) running, "
                     f"{detector['waiting']} frame(s) waiting; {agent['alerts_queue']} item(s) for the alerts actor")
        for row in agent["cameras"]:
            lines.append(f"  {row['camera']}: {row['state']}, {row['analysed']} analysed, {row['dropped']} dropped, "
                         f"{row['infer_ms']:.0f} ms a frame")
    for name in cluster["silent"]:
        lines.append(f"agent {name}: did not answer")
    return "\n".join(lines)


def lease_lines(store: EventStore) -> list[str]:
    """For `gunwatch camera status`: where each camera runs, when some run on a cluster (none otherwise)."""
    places = [place for place in camera_places(store) if place.node is not None]
    return [f"{place.camera}: runs on {place.node} (lease held by {place.holder}, {place.expires_in_s:.0f} s left)"
            for place in places]


def collect(store: EventStore, site_file: Any, address: str | None) -> dict[str, Any]:
    """The status: the store's view, and the agents' when the cluster (`address`, else the site file's
    `cluster` section) answers."""
    places = camera_places(store)
    settings = _settings(site_file, address)
    if settings is None:
        return status_json(places, None, [], "no cluster address (give --address, or a site file with a cluster "
                                             "section)")
    from gunwatch.cluster.checks import connect_cluster

    try:
        connect_cluster(settings)
    except Exception as error:  # unreachable: the store's view still stands
        return status_json(places, None, [], str(error))
    import ray

    try:
        agents, silent = agents_status(settings.namespace)
    finally:
        ray.shutdown()
    return status_json(places, agents, silent, None)


def _settings(site_file: Any, address: str | None) -> Any:
    from gunwatch.config.cluster import ClusterSettings

    site = None
    if site_file is not None:
        from gunwatch.config import load_site_config

        site = load_site_config(site_file)
    if address is not None:
        if site is not None:
            from gunwatch.config.cluster import with_cluster_address

            return with_cluster_address(site, address).cluster
        return ClusterSettings(address=address)
    return getattr(site, "cluster", None)
