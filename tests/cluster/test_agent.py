"""The node agent without Ray (its body is a plain class): a camera is watched only under its lease, a lease
lost stops the camera at once, and an agent that stops hearing from the supervisor stops its cameras and frees
their leases; each camera it stops of its own accord is named, with why, in its answer to the supervisor's ping.
Real SQLite store, a looping file camera, the stand-in model."""

from __future__ import annotations

import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from gunwatch.cluster.agent import NodeAgent
from gunwatch.config import parse_site_config
from gunwatch.config.site import SiteConfig
from gunwatch.events.store import EventStore
from gunwatch.events.store.leases import CameraLeases
from gunwatch.pipeline.analysis import FrameAnalyzer
from gunwatch.pipeline.watch import WatchService
from support.stand_in import GunWhileHeld, grey_clip
from support.stand_in_cameras import WAIT_S
from support.waiting import wait_until

LEASE_S = 1.5
FENCE_S = 3.0  # short, for the test (the supervisor sets 2 1/3 leases and 6 s)
HEARTBEAT_S = 0.2


@pytest.fixture
def site(tmp_path: Path) -> SiteConfig:
    return parse_site_config(f"""
cameras:
  lobby: {{url: "{grey_clip(tmp_path / 'lobby.mp4', 80)}", loop: true, detect: {{fps: 2}}}}
evidence: {{folder: "{tmp_path / 'evidence'}"}}
store: {{url: "sqlite:///{tmp_path / 'events.db'}"}}
""")


@pytest.fixture
def agent(site: SiteConfig, monkeypatch: pytest.MonkeyPatch) -> Iterator[NodeAgent]:
    created = start_agent(site, monkeypatch)
    yield created
    created.close()


def start_agent(site: SiteConfig, monkeypatch: pytest.MonkeyPatch, fence_s: float | None = None) -> NodeAgent:
    def stand_in_service(empty, _on_event, on_health, store, on_evidence):  # the model is not the point here
        return WatchService(empty, FrameAnalyzer(GunWhileHeld(), 64), store, None, on_health, on_evidence=on_evidence)

    monkeypatch.setattr("gunwatch.pipeline.watch_command.build_service", stand_in_service)
    return NodeAgent(site, "agent-1", LEASE_S, None, "test", fence_s=fence_s)


def test_a_camera_runs_only_under_its_lease_and_stops_when_the_lease_is_lost(agent: NodeAgent,
                                                                            site: SiteConfig) -> None:
    lobby = site.cameras["lobby"]
    leases = CameraLeases(EventStore(agent.store.url))
    other = leases.acquire("lobby", "agent-2", "elsewhere", ttl_s=60)
    assert other is not None
    assert agent.assign("lobby", lobby) is False  # another holder's lease is live: not watched here
    assert agent.cameras() == [] and agent.service.status() == []

    leases.release(other)
    assert agent.assign("lobby", lobby) is True
    assert agent.assign("lobby", lobby) is True  # asked again (a supervisor's retry): still once
    assert [row.camera for row in agent.service.status()] == ["lobby"]
    [held] = leases.all()
    assert (held.holder, held.node) == ("agent-1", agent.node)
    assert wait_until(lambda: leases.all()[0].expires_at > held.expires_at, WAIT_S)  # renewed meanwhile

    # Lost: released behind its back and taken by another holder; the next renewal stops the camera.
    leases.release(leases.all()[0])
    assert leases.acquire("lobby", "agent-2", "elsewhere", ttl_s=60) is not None
    assert wait_until(lambda: agent.cameras() == [] and agent.service.status() == [], WAIT_S)
    assert leases.all()[0].holder == "agent-2"
    report = agent.ping()  # the supervisor hears which camera stopped, and why
    assert (report.cameras, report.stopped) == ((), {"lobby": f"lease lost on {agent.node}"})

    leases.release(leases.all()[0])
    assert agent.assign("lobby", lobby) is True  # given it again: the reason is gone
    assert (agent.ping().cameras, agent.ping().stopped) == (("lobby",), {})


def test_unassign_stops_the_camera_and_gives_the_lease_back_at_once(agent: NodeAgent, site: SiteConfig) -> None:
    assert agent.assign("lobby", site.cameras["lobby"])
    assert agent.unassign("lobby", "removed from the site file") is True
    assert agent.unassign("lobby", "again") is False
    leases = CameraLeases(agent.store)
    assert leases.acquire("lobby", "agent-2", "elsewhere", ttl_s=60) is not None  # free at once, not after a lease
    [lobby] = agent.store.camera_status()
    assert (lobby.state, lobby.reason) == ("stopped", "removed from the site file")


def test_importing_cluster_mode_does_not_import_ray() -> None:
    """One process stays the default: its import never needs Ray (the actors are made on first use)."""
    code = ("import sys, gunwatch.cli, gunwatch.cluster.run, gunwatch.cluster.status, gunwatch.cluster.agent\n"
            "print(sorted(m for m in sys.modules if m == 'ray' or m.startswith('ray.')))")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "[]"


def test_an_agent_that_stops_hearing_from_the_supervisor_stops_its_cameras_and_frees_their_leases(
        site: SiteConfig, monkeypatch: pytest.MonkeyPatch) -> None:
    agent = start_agent(site, monkeypatch, fence_s=FENCE_S)
    silent = threading.Event()  # set: the supervisor's heartbeats stop

    def supervisor_heartbeats() -> None:
        while not silent.wait(HEARTBEAT_S):
            agent.heartbeat()

    beats = threading.Thread(target=supervisor_heartbeats)
    try:
        beats.start()
        assert agent.assign("lobby", site.cameras["lobby"])
        leases = CameraLeases(agent.store)
        [assigned] = leases.all()
        # Heard from: still renewed well after fence_s had passed since the assign, and still watched.
        assert wait_until(lambda: leases.all()[0].expires_at > assigned.expires_at + FENCE_S + LEASE_S, WAIT_S)
        assert agent.cameras() == ["lobby"]

        silent.set()
        beats.join()
        # `cameras()`, not `ping()`, while waiting: a ping is the supervisor being heard from.
        assert wait_until(lambda: agent.cameras() == [] and agent.service.status() == [], WAIT_S)
        assert leases.acquire("lobby", "agent-2", "elsewhere", ttl_s=60) is not None  # free at once, not a lease later
        [lobby] = agent.store.camera_status()
        assert lobby.state == "offline" and lobby.reason.startswith(f"the supervisor not heard from on {agent.node}")
        report = agent.ping()
        assert report.cameras == () and report.stopped == {"lobby": lobby.reason}
    finally:
        silent.set()
        agent.close()
