"""Where each camera runs: plain functions over names, no Ray (the supervisor applies what they decide).

`place` keeps every camera that runs on a live node where it is (a move blinds a camera for a lease and a
start), and puts the others one at a time on the live node with the fewest cameras that still has room,
ties broken by node name so that the result does not depend on dict order. A camera that fits nowhere stays
unplaced and is tried again at the next poll (a node may join).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass


@dataclass(frozen=True)
class Moves:
    """What turns one placement into another: cameras to start (camera -> node), to stop (camera -> node)."""

    start: dict[str, str]
    stop: dict[str, str]


def node_capacity(cpus: float, detector_cpus: float, camera_cpus: float, max_cameras: int | None) -> int:
    """How many cameras a node takes: the CPUs left beside its detector, `camera_cpus` each, at most
    `max_cameras`; 0 when the detector alone does not fit."""
    if cpus + 1e-9 < detector_cpus:
        return 0
    by_cpu = int((cpus - detector_cpus) / camera_cpus + 1e-9) if camera_cpus > 0 else 10**9
    return by_cpu if max_cameras is None else min(by_cpu, max_cameras)


def place(cameras: Iterable[str], current: Mapping[str, str], capacity: Mapping[str, int]) -> dict[str, str]:
    """camera -> node for `cameras`: those in `current` on a node of `capacity` stay (up to its capacity), the
    rest go to the least loaded node with room; a camera that fits nowhere is left out."""
    wanted = sorted(dict.fromkeys(cameras))
    load = dict.fromkeys(capacity, 0)
    placed: dict[str, str] = {}
    for camera in wanted:
        node = current.get(camera)
        if node in capacity and load[node] < capacity[node]:
            placed[camera] = node
            load[node] += 1
    for camera in wanted:
        if camera in placed:
            continue
        roomy = [node for node in capacity if load[node] < capacity[node]]
        if not roomy:
            continue
        node = min(roomy, key=lambda name: (load[name], name))
        placed[camera] = node
        load[node] += 1
    return placed


def moves(before: Mapping[str, str], after: Mapping[str, str]) -> Moves:
    """Cameras whose node changed are stopped where they were and started where they go."""
    stop = {camera: node for camera, node in before.items() if after.get(camera) != node}
    start = {camera: node for camera, node in after.items() if before.get(camera) != node}
    return Moves(start, stop)


def per_node(placement: Mapping[str, str]) -> dict[str, list[str]]:
    """node -> its cameras, sorted."""
    nodes: dict[str, list[str]] = {}
    for camera, node in sorted(placement.items()):
        nodes.setdefault(node, []).append(camera)
    return nodes
