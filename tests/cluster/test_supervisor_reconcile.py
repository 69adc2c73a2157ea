"""A camera whose agent stopped it of its own accord (a lost lease, cut off from the supervisor) is never left
placed there quietly: at the agent's next ping answer the supervisor records it `offline` with the agent's reason
(to the store and the alerts) and places it again. Once a lost node's camera runs elsewhere, every event that
node stored since its last account of its hand-over queue goes to the alerts again, closed ones included. Real
SQLite store; the supervisor's poll without Ray (what its forwarder hands the alerts actor recorded)."""

from __future__ import annotations

import dataclasses
from pathlib import Path

from sqlalchemy import update

from gunwatch.cluster.agent import AgentReport
from gunwatch.cluster.forwarding import Forwarder
from gunwatch.cluster.supervisor import Agent, Supervisor
from gunwatch.config import parse_site_config
from gunwatch.events.model import ThreatEvent
from gunwatch.events.store import EventStore
from gunwatch.events.store.schema import EventRow
from support.waiting import wait_until

NODE = "worker-1/10.0.0.2"


def supervisor_of(tmp_path: Path, store: EventStore) -> Supervisor:
    site_file = tmp_path / "site.yaml"
    site_file.write_text("cameras:\n  gate: {url: 'rtsp://127.0.0.1:8554/gate'}\n"
                         "  yard: {url: 'rtsp://127.0.0.1:8554/yard'}\n  dock: {url: 'rtsp://127.0.0.1:8554/dock'}\n"
                         f"store: {{url: '{store.url}'}}\n"
                         "cluster: {address: '127.0.0.2:6379', lease_s: 15}\n")
    site = parse_site_config(site_file.read_text(), str(site_file), {})
    assert site.cluster is not None
    return Supervisor(site_file, site, site.cluster, store)


def test_cameras_an_agent_no_longer_watches_are_recorded_offline_with_its_reason_and_placed_again(
        tmp_path: Path) -> None:
    with EventStore(f"sqlite:///{tmp_path / 'events.db'}") as store:
        supervisor = supervisor_of(tmp_path, store)
        agent = Agent("node-1", "gunwatch-agent-node-1", None, NODE, capacity=4, ready=True)
        supervisor.placement = {"gate": "node-1", "yard": "node-1", "dock": "node-2"}

        # It watches yard; gate it stopped (lease lost); dock is another node's, whatever this agent says.
        supervisor._reconcile(agent, AgentReport(NODE, ("yard",), {"gate": f"lease lost on {NODE}"}))
        assert supervisor.placement == {"yard": "node-1", "dock": "node-2"}
        assert supervisor.lost_from == {"gate": NODE}
        health = {camera.name: camera for camera in store.camera_status()}
        assert (health["gate"].state, health["gate"].reason) == ("offline", f"lease lost on {NODE}; placing it again")
        assert set(health) == {"gate"}

        supervisor._reconcile(agent, AgentReport(NODE, ("yard",), {}))  # the same answer again: nothing more
        assert len(store.camera_status(recent=10)[0].recent) == 1

        supervisor._reconcile(agent, AgentReport(NODE, (), {}))  # gone without a reason: said so all the same
        yard = next(camera for camera in store.camera_status() if camera.name == "yard")
        assert (yard.state, yard.reason) == ("offline", f"no longer watched on {NODE}; placing it again")
        assert supervisor.placement == {"dock": "node-2"}

        supervisor._started("gate", agent, asked_at=1.0)  # placed again on the same node
        history = next(camera for camera in store.camera_status(recent=10) if camera.name == "gate").recent
        assert f"running again on {NODE}" in [change.reason for change in history]
        assert supervisor.placement["gate"] == "node-1" and "gate" not in supervisor.lost_from



def test_a_lost_nodes_events_since_its_last_account_go_to_the_alerts_again_once_its_camera_runs_elsewhere(
        tmp_path: Path) -> None:
    with EventStore(f"sqlite:///{tmp_path / 'events.db'}") as store:
        supervisor = supervisor_of(tmp_path, store)
        handled: list[ThreatEvent] = []
        # The supervisor's own forwarder, its receiver (the alerts actor's `handle`) recording what it is given.
        supervisor.hand_over = Forwarder(lambda item: handled.append(item) is None).start()
        since = 1_000.0

        def stored(camera: str, at: float, state: str = "open") -> ThreatEvent:
            """An event as a node stored it, its last write at `at`."""
            event = ThreatEvent(camera, "open", at - 2, at - 1, at, 0.8, (1.0, 2.0, 3.0, 4.0))
            if state == "closed":
                event = dataclasses.replace(event, state="closed", closed_at=at)
            store.save_event(event)
            with store.write_session.begin() as session:
                session.execute(update(EventRow).where(EventRow.id == event.id).values(updated_at=at))
            return event

        stored("gate", since - 100, "closed")  # handed over long before: not again
        began_and_ended = stored("gate", since + 10, "closed")  # while its node was cut off
        still_open = stored("gate", since + 30)
        stored("yard", since + 10)  # another camera's
        supervisor.unalerted_since["gate"] = since
        supervisor.lost_from["gate"] = "worker-1/10.0.0.2"

        supervisor._started("gate", Agent("node-2", "gunwatch-agent-node-2", None, "worker-2/10.0.0.3", 4), 1.0)

        forwarder = supervisor.hand_over
        assert wait_until(lambda: forwarder.sent == 2, timeout=30)
        assert [(event.id, event.state) for event in handled] == [
            (began_and_ended.id, "closed"), (still_open.id, "open")]
        supervisor._hand_on_since("gate")  # once: its account is used up
        assert forwarder.pending + forwarder.sent == 2  # a put is queued at once: none was
        assert forwarder.close(drain_s=30)
