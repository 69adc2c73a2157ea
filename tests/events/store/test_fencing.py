"""Writes fenced by a camera's lease: stored while the lease is held, refused once another holder took it or it
was given back; and on PostgreSQL a take-over waits for a fenced write in flight, which therefore lands first."""

from __future__ import annotations

import threading
import time

import pytest
from sqlalchemy import text

from gunwatch.events.model import EventState, ThreatEvent
from gunwatch.events.store import EventStore
from gunwatch.events.store.fencing import LeaseLost, hold_fence
from gunwatch.events.store.leases import CameraLease, CameraLeases
from gunwatch.events.store.rows import event_values
from gunwatch.events.store.schema import EventRow
from gunwatch.events.store.upsert import upsert
from support.clock import Clock
from support.waiting import wait_until

TTL = 15.0


def event(state: EventState = "open", score: float = 0.8) -> ThreatEvent:
    now = time.time()
    return ThreatEvent(id="ev-fenced", camera="lobby", state=state, first_seen=now - 1, confirmed_at=now,
                       last_seen=now, max_score=score, best_box=(1.0, 2.0, 30.0, 40.0), boxes=[(1.0, 2.0, 30.0, 40.0)])


def taken_over(leases: CameraLeases, clock: Clock, old: CameraLease) -> CameraLease:
    clock.now = old.expires_at + 1  # the old holder's lease lapsed (a pause, a partition)
    new = leases.acquire("lobby", "agent-b-1", "node-b", TTL)
    assert new is not None and new.token == old.token + 1
    return new


def test_fenced_writes_land_while_the_lease_is_held(store: EventStore) -> None:
    lease = CameraLeases(store, Clock()).acquire("lobby", "agent-a-1", "node-a", TTL)
    assert lease is not None
    store.save_event(event(), fence=lease)
    store.record_health("lobby", "online", "watched on node-a", fence=lease)
    assert store.get_event("ev-fenced") is not None
    assert [camera.state for camera in store.camera_status()] == ["online"]


def test_a_holder_that_lost_the_camera_writes_nothing(store: EventStore) -> None:
    clock = Clock()
    leases = CameraLeases(store, clock)
    old = leases.acquire("lobby", "agent-a-1", "node-a", TTL)
    assert old is not None
    store.save_event(event(), fence=old)
    new = taken_over(leases, clock, old)
    store.save_event(event("closed"), fence=new)  # the new holder closed the event it continued
    store.record_health("lobby", "online", "watched on node-b", fence=new)
    with pytest.raises(LeaseLost, match=r"lobby.*agent-a-1.*token 1"):  # a version the old holder had queued
        store.save_event(event("open", 0.9), fence=old)
    with pytest.raises(LeaseLost):
        store.record_health("lobby", "offline", "stale", fence=old)
    stored = store.get_event("ev-fenced")
    assert stored is not None and (stored.state, stored.max_score) == ("closed", 0.8)
    assert [(camera.state, camera.reason) for camera in store.camera_status()] == [("online", "watched on node-b")]
    leases.release(new)  # given back: its holder's late writes are refused too
    with pytest.raises(LeaseLost):
        store.save_event(event("open"), fence=new)


@pytest.mark.parametrize("store_url", ["postgresql"], indirect=True)  # SQLite has no row locks
def test_a_take_over_waits_for_the_fenced_write_in_flight(store: EventStore) -> None:
    clock = Clock()
    leases = CameraLeases(store, clock)
    old = leases.acquire("lobby", "agent-a-1", "node-a", TTL)
    assert old is not None
    clock.now = old.expires_at + 1
    writing = store.write_session()
    writing.begin()
    hold_fence(writing, old)  # the old holder's write has passed its fence, not yet committed
    taken: list[CameraLease | None] = []
    taker = threading.Thread(target=lambda: taken.append(leases.acquire("lobby", "agent-b-1", "node-b", TTL)))
    taker.start()

    def take_over_blocked() -> bool:
        with store.read_session() as session:
            return bool(session.scalar(text("SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' "
                                            "AND datname = current_database()")))

    assert wait_until(take_over_blocked, timeout=30)
    assert not taken  # still waiting on the fenced write
    writing.execute(upsert("postgresql", EventRow, event_values(event(), time.time()), key="id", keep=["created_at"]))
    writing.commit()
    writing.close()
    taker.join(30)
    [new] = taken
    assert new is not None and new.token == 2  # the camera changed hands after the write landed
    assert store.get_event("ev-fenced") is not None  # so the new holder finds it (and may adopt it)
    with pytest.raises(LeaseLost):
        store.save_event(event("open", 0.95), fence=old)
