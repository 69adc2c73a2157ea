"""`gunwatch watch --cluster` on a real local Ray cluster: a head and two worker nodes (separate process groups on
loopback), PostgreSQL, file cameras and the shipped model, a webhook to a real HTTP receiver.

One scenario, one cluster start (CI's budget): 4 cameras spread over both worker nodes; the demo clip's gun raises
one event and one alert; `gunwatch cluster status` and `camera status` say where each camera runs, and one scrape
of the head's /metrics has every node's cameras; the alerts actor is killed and Ray starts it again; the node
watching the gun camera is SIGKILLed while the gun's event is open: its cameras come back on the other node, each
move a health event naming both nodes, the open event continues there under its id (no second event for that
episode), and the gun seen again there merges into the alert under way (no second alert under another key); a
supervisor stopped (SIGSTOP) is no longer heard from: the agent stops its cameras and frees their leases, and once
it runs again it starts them again, each stop recorded with its reason; a camera added to the site file starts
and one removed stops while the others keep their leases, a bad site
file is refused naming its key, and a good one whose mtime did not change is applied when `gunwatch reload`
asks (SIGHUP); SIGTERM stops everything and gives the leases back. Every wait is on a condition while the watch
runs; the failover time is printed, never asserted.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import httpx
from sqlalchemy import select

from gunwatch.alerts.outbox import Outbox
from gunwatch.events.model import ThreatEvent
from gunwatch.events.store import EventStore
from gunwatch.events.store.leases import CameraLease, CameraLeases
from gunwatch.events.store.schema import AuditRow, ProtocolRunRow
from support.http_receiver import HttpReceiver, http_receiver_fixture  # noqa: F401 - provides `http_receiver`
from support.ray_cluster import RayCluster, free_port, ray_cluster_fixture  # noqa: F401 - provides `ray_cluster`
from support.stand_in import grey_clip
from support.waiting import wait_until, wait_while_running

DEMO = Path(__file__).resolve().parents[2] / "samples" / "demo" / "lobby.mp4"  # a handgun from 3 s to 7 s
LEASE_S = 4


def site_text(folder: Path, store_url: str, hook: str, cameras: list[str], console_port: int) -> str:
    lines = [f'  {name}: {{url: "{DEMO if name == "lobby" else folder / (name + ".mp4")}", loop: true, '
             f'detect: {{fps: 2}}}}' for name in cameras]
    return "\n".join(["cameras:", *lines, f"""confirmation: {{close_after_s: 2}}
evidence: {{folder: "{folder / 'evidence'}", pre_roll_s: 1, post_roll_s: 1}}
store: {{url: "{store_url}"}}
detector: {{parallel: 1}}
console: {{listen: "127.0.0.1:{console_port}"}}
cluster: {{address: auto, lease_s: {LEASE_S}, restart_bound_s: 60, camera_cpus: 0.1}}
alerts:
  channels:
    hook: {{url: "{hook}", signed: false}}
  recipients:
    guard: {{name: Guard}}
  protocols:
    gun_seen:
      trigger: {{on: threat, cameras: [lobby]}}
      steps:
        - notify: {{to: [guard], via: [hook]}}
"""])


def start_watch(site: Path, address: str) -> subprocess.Popen[str]:
    log = site.with_suffix(".log").open("a")  # a file: a pipe nobody reads would fill and block the process
    return subprocess.Popen([sys.executable, "-m", "gunwatch.cli", "watch", "--config", str(site), "--cluster",
                             address, "--status-every", "0"], stdout=subprocess.DEVNULL, stderr=log, text=True,
                            env={**os.environ, "RAY_DEDUP_LOGS": "0"})  # every agent's lines, as they were


def log_of(site: Path, tail: int = 6000) -> str:
    return site.with_suffix(".log").read_text()[-tail:]


def test_cameras_spread_fail_over_and_join_on_a_ray_cluster(
        tmp_path: Path, ray_cluster: RayCluster, postgres_url: str, http_receiver: HttpReceiver) -> None:
    for index, name in enumerate(("dock", "gate", "yard", "hall")):
        grey_clip(tmp_path / f"{name}.mp4", 60 + 20 * index)
    (tmp_path / "evidence").mkdir()
    site, port = tmp_path / "site.yaml", free_port("127.0.0.1")
    site.write_text(site_text(tmp_path, postgres_url, http_receiver.url(), ["lobby", "dock", "gate", "yard"], port))
    store = EventStore(postgres_url)
    leases, outbox = CameraLeases(store), Outbox(store)

    def where() -> dict[str, str]:
        return {camera: lease.node for camera, lease in leases.live().items()}

    def alerts() -> list[str]:
        return [request.headers.get("x-gunwatch-key", "") for request in http_receiver.requests
                if request.headers.get("x-gunwatch-kind") == "alert"]

    watch = start_watch(site, ray_cluster.address)
    try:
        # --- 4 cameras over the 2 worker nodes; the gun raises one event and one alert -----------------------
        cameras = {"lobby", "dock", "gate", "yard"}
        assert wait_while_running(lambda: set(where()) == cameras and store.online_since() >= cameras,
                                  watch), log_of(site)
        workers = {node.rsplit("/", 1)[1] for node in where().values()}
        assert workers == set(ray_cluster.ips.values()), where()  # both workers, never the head (no CPUs)
        assert sorted(Counter(where().values()).values()) == [2, 2], where()
        status = gunwatch("cluster", "status", "--config", str(site), "--address", ray_cluster.address, "--json")
        assert status.returncode == 0, status.stderr
        shown = json.loads(status.stdout)
        assert {node["node"]: sorted(node["cameras"]) for node in shown["nodes"]} == {
            node: sorted(camera for camera in where() if where()[camera] == node) for node in set(where().values())}
        agents = shown["cluster"]["agents"]  # the agents' own view: their cameras and their detector
        assert sorted(row["camera"] for agent in agents for row in agent["cameras"]) == sorted(cameras)
        assert all(agent["detector"]["workers"] >= 1 for agent in agents) and len(agents) == 2
        listed = gunwatch("camera", "status", "--config", str(site))
        assert f"lobby: runs on {where()['lobby']}" in listed.stderr, listed.stderr
        # One scrape of the head's /metrics has every node's cameras (their agents asked at scrape time).
        assert gunwatch("user", "add", "ops", "--role", "operator", "--password-stdin", "--config", str(site),
                        stdin="a long enough password\n").returncode == 0
        token = gunwatch("token", "add", "prom", "--user", "ops", "--scope", "cameras:read", "--config", str(site))
        assert token.returncode == 0, token.stderr
        scrapes: list[httpx.Response] = []

        def every_camera_scraped() -> bool:  # an agent slow to answer is left out of that scrape: scrape again
            scrapes.append(httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=60,
                                     headers={"Authorization": f"Bearer {token.stdout.strip()}"}))
            return scrapes[-1].status_code == 200 and all(
                f'gunwatch_camera_frames_analysed_total{{camera="{camera}"}}' in scrapes[-1].text for camera in cameras)

        assert wait_while_running(every_camera_scraped, watch), scrapes[-1].text
        assert wait_while_running(lambda: len(alerts()) == 1, watch), log_of(site)

        # --- the alerts actor dies: Ray starts it again, and it carries on from the store -------------------
        [alerts_pid] = re.findall(r"alerts actor on \S+ \(pid (\d+)\)", log_of(site, 10**7))
        os.kill(int(alerts_pid), signal.SIGKILL)
        started_twice = lambda: log_of(site, 10**7).count("alerts actor: 1 channels") == 2  # noqa: E731
        assert wait_while_running(started_twice, watch), log_of(site)

        # --- the node watching the gun camera dies, the gun's event open (just confirmed: open a few s more) --
        just_confirmed: list[ThreatEvent] = []

        def gun_event_open() -> bool:
            just_confirmed[:] = [event for event in store.list_events(limit=3, camera="lobby")
                                 if event.state != "closed" and time.time() - event.confirmed_at < 3]
            return bool(just_confirmed)

        assert wait_while_running(gun_event_open, watch), log_of(site)
        lost = where()["lobby"]
        [victim] = [name for name, ip in ray_cluster.ips.items() if lost.endswith(f"/{ip}")]
        moved = sorted(camera for camera, node in where().items() if node == lost)
        killed_at = time.time()
        ray_cluster.kill(victim)
        assert wait_while_running(lambda: set(where()) == cameras and lost not in where().values()
                                  and store.online_since(killed_at) >= set(moved), watch), log_of(site)
        print(f"failover: {', '.join(moved)} back online {time.time() - killed_at:.1f} s after the SIGKILL")
        [survivor] = set(where().values())

        def moves_recorded() -> bool:  # each move is a health event naming both nodes (the supervisor records it
            # once the new node says the camera started, which may come after the camera's own `online`)
            history = {camera.name: camera.recent for camera in store.camera_status(recent=10)}
            return all(any(f"moved from {lost} to {survivor}" in change.reason for change in history[camera])
                       for camera in moved)

        assert wait_while_running(moves_recorded, watch), store.camera_status(recent=10)
        # The event open at the kill continues on the new node under its id, which closes it; no other event of
        # the camera is confirmed meanwhile (a move used to close it, and the gun raised a second event).
        [episode] = just_confirmed
        assert adoptions(store, "lobby", killed_at) == [(episode.id, survivor)], log_of(site)
        assert wait_while_running(lambda: store.get_event(episode.id).state == "closed", watch), log_of(site)
        ended = store.get_event(episode.id).closed_at
        assert [event.id for event in store.list_events(limit=20, camera="lobby")
                if killed_at <= event.confirmed_at <= ended] == []
        # The gun is seen again from the new node: its run merges into the one under way, no second alert.
        assert wait_while_running(lambda: merged_since(store, killed_at), watch), log_of(site)
        deliveries = outbox.list()
        assert [d.kind for d in deliveries] == ["alert"] and alerts() == [deliveries[0].key], (alerts(), deliveries)

        # --- the supervisor goes silent (its process stopped): the agent, no longer hearing from it, stops its
        # cameras and frees their leases itself (a node cut off from the cluster keeps no camera it cannot alert
        # for); heard from again, the supervisor starts them again, each stop recorded with the agent's reason.
        silenced_at = time.time()
        watch.send_signal(signal.SIGSTOP)
        try:
            assert wait_until(lambda: where() == {}, 300), log_of(site)  # no lease left, none taken over
        finally:
            watch.send_signal(signal.SIGCONT)
        assert wait_while_running(lambda: set(where()) == cameras and store.online_since(silenced_at) >= cameras,
                                  watch), log_of(site)
        print(f"cut off: every camera back online {time.time() - silenced_at:.1f} s after the supervisor stopped")
        history = {camera.name: camera.recent for camera in store.camera_status(recent=10)}
        for camera in cameras:
            assert any(change.state == "offline" and change.at >= silenced_at
                       and change.reason.startswith(f"the supervisor not heard from on {survivor}")
                       for change in history[camera]), history[camera]

        # --- the site file: a camera added starts, one removed stops, the others run on; a bad file is refused
        running = {camera: lease.token for camera, lease in lease_rows(leases).items() if camera != "yard"}
        site.write_text(site_text(tmp_path, postgres_url, http_receiver.url(), ["lobby", "dock", "gate", "hall"], port))
        assert wait_while_running(lambda: set(where()) == {"lobby", "dock", "gate", "hall"}
                                  and "hall" in store.online_since() and stopped(store) == {"yard"},
                                  watch), log_of(site)
        assert {camera: lease_rows(leases)[camera].token for camera in running} == running  # never taken again
        site.write_text(site_text(tmp_path, postgres_url, http_receiver.url(), ["lobby", "dock"], port).replace(
            "fps: 2", "fps: zero", 1))
        assert wait_while_running(lambda: "cameras.lobby.detect.fps" in log_of(site), watch), log_of(site)
        assert f"{site}" in log_of(site) and set(where()) == {"lobby", "dock", "gate", "hall"}
        # A good file put in place under the refused one's mtime (renamed over it: no poll sees it half done):
        # only `gunwatch reload` (SIGHUP to the driver) has it read; the driver runs on (SIGHUP's default action
        # would have ended it) and applies it: hall stops.
        mtime = site.stat().st_mtime_ns
        fixed = site.with_name("fixed.yaml")
        fixed.write_text(site_text(tmp_path, postgres_url, http_receiver.url(), ["lobby", "dock", "gate"], port))
        os.utime(fixed, ns=(mtime, mtime))
        os.replace(fixed, site)
        asked = gunwatch("reload", "--config", str(site))
        assert asked.returncode == 0, asked.stderr
        assert wait_while_running(lambda: set(where()) == {"lobby", "dock", "gate"}
                                  and stopped(store) == {"yard", "hall"}, watch), log_of(site)
    finally:
        watch.send_signal(signal.SIGTERM)
        code = watch.wait(timeout=180)
    assert code == 0, log_of(site)
    assert where() == {}  # every lease given back
    assert {camera.state for camera in store.camera_status(recent=0)} == {"stopped"}
    assert alerts() == [deliveries[0].key]
    store.close()


def gunwatch(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "gunwatch.cli", *args], capture_output=True, text=True, timeout=120,
                          input=stdin)


def lease_rows(leases: CameraLeases) -> dict[str, CameraLease]:
    return {lease.camera: lease for lease in leases.all()}


def stopped(store: EventStore) -> set[str]:
    return {camera.name for camera in store.camera_status(recent=0) if camera.state == "stopped"}


def merged_since(store: EventStore, since: float) -> bool:
    """Whether a protocol run started after `since` merged into one under way (its camera's cool-down)."""
    with store.read_session() as session:
        return session.scalars(select(ProtocolRunRow.id).where(ProtocolRunRow.state == "merged",
                                                               ProtocolRunRow.started_at >= since)).first() is not None


def adoptions(store: EventStore, camera: str, since: float) -> list[tuple[str | None, str]]:
    """(event, node) of each open event of `camera` a new holder took over since `since`."""
    query = (select(AuditRow).where(AuditRow.camera == camera, AuditRow.action == "event.adopted", AuditRow.at >= since)
             .order_by(AuditRow.id))
    with store.read_session() as session:
        return [(row.event_id, row.detail["node"]) for row in session.scalars(query)]
