"""A camera removed from the site file while its node was lost: its open event is closed by the supervisor once
the lost node's lease has lapsed (never before: until then that node may still write it), its state `stopped`."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import select

from gunwatch.cluster.handover import CLOSED_AT_REMOVAL
from gunwatch.cluster.supervisor import Supervisor
from gunwatch.config import parse_site_config
from gunwatch.events.model import ThreatEvent
from gunwatch.events.store import EventStore
from gunwatch.events.store.leases import CameraLeases
from gunwatch.events.store.schema import AuditRow
from support.clock import T0, Clock

LEASE_S = 15.0


def test_an_orphan_cameras_open_event_is_closed_once_its_lost_nodes_lease_lapsed(tmp_path: Path) -> None:
    site_file = tmp_path / "site.yaml"
    site_file.write_text("cameras:\n  gate: {url: 'rtsp://127.0.0.1:8554/gate'}\n"  # yard: removed
                         f"store: {{url: 'sqlite:///{tmp_path / 'events.db'}'}}\n"
                         f"cluster: {{address: '127.0.0.2:6379', lease_s: {LEASE_S}}}\n")
    site = parse_site_config(site_file.read_text(), str(site_file), {})
    assert site.cluster is not None
    clock = Clock()
    with EventStore(site.store.url) as store:
        leases = CameraLeases(store, clock)
        assert leases.acquire("yard", "agent-lost", "lost-node", LEASE_S) is not None  # the lost node's
        event = ThreatEvent("yard", "open", T0 - 3, T0 - 2, T0 - 1, 0.8, (1.0, 2.0, 3.0, 4.0))
        store.save_event(event)
        supervisor = Supervisor(site_file, site, site.cluster, store)
        supervisor.lost_from["yard"] = "lost-node"
        supervisor.retiring.add("yard")  # as a reload removing it while no agent ran it leaves it

        supervisor._retire_removed(leases)  # the lost node's lease still live: nothing yet
        assert store.get_event(event.id).state == "open" and supervisor.retiring == {"yard"}

        clock.now = T0 + LEASE_S + 1
        supervisor._retire_removed(leases)
        closed = store.get_event(event.id)
        assert closed is not None and closed.state == "closed" and supervisor.retiring == set()
        with store.read_session() as session:
            [entry] = session.scalars(select(AuditRow).where(AuditRow.event_id == event.id))
            assert (entry.action, entry.detail) == ("event.closed", {"reason": CLOSED_AT_REMOVAL})
        [yard] = store.camera_status()
        assert (yard.state, yard.reason) == ("stopped", "removed from the site file")
        [lease] = leases.all()
        assert lease.holder.startswith("supervisor-") and lease.expires_at <= clock.now  # given back
