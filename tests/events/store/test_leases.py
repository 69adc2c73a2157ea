"""Camera leases (cluster mode): one holder per camera, on SQLite and PostgreSQL, with a clock the test moves."""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import pytest
from sqlalchemy import text

from gunwatch.events.store import EventStore, StoreError
from gunwatch.events.store.leases import CameraLease, CameraLeases
from support.clock import T0, Clock

TTL = 15.0


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def leases(store: EventStore, clock: Clock) -> CameraLeases:
    return CameraLeases(store, clock)


def test_a_free_camera_is_leased_with_the_first_token(leases: CameraLeases) -> None:
    lease = leases.acquire("lobby", "agent-a-1", "node-a", TTL)
    assert lease == CameraLease("lobby", "agent-a-1", "node-a", 1, T0 + TTL)
    assert leases.all() == [lease]


def test_another_holder_waits_until_the_lease_expires(leases: CameraLeases, clock: Clock) -> None:
    first = leases.acquire("lobby", "agent-a-1", "node-a", TTL)
    assert first is not None
    assert leases.acquire("lobby", "agent-b-1", "node-b", TTL) is None
    clock.now = first.expires_at  # the last instant of the lease: still live
    assert leases.acquire("lobby", "agent-b-1", "node-b", TTL) is None
    clock.now = first.expires_at + 0.5
    taken = leases.acquire("lobby", "agent-b-1", "node-b", TTL)
    assert taken == CameraLease("lobby", "agent-b-1", "node-b", 2, clock.now + TTL)
    assert leases.all() == [taken]


def test_acquiring_its_own_live_lease_renews_it_with_the_same_token(leases: CameraLeases, clock: Clock) -> None:
    first = leases.acquire("lobby", "agent-a-1", "node-a", TTL)
    clock.now += 10
    again = leases.acquire("lobby", "agent-a-1", "node-a", TTL)
    assert first is not None and again == CameraLease("lobby", "agent-a-1", "node-a", 1, T0 + 10 + TTL)
    clock.now = first.expires_at + 0.5  # past the first expiry, within the renewed one
    assert leases.acquire("lobby", "agent-b-1", "node-b", TTL) is None


def test_the_token_grows_by_one_on_each_change_of_holder(leases: CameraLeases, clock: Clock) -> None:
    tokens = []
    for holder in ["agent-a-1", "agent-b-1", "agent-a-1", "agent-c-1"]:
        lease = leases.acquire("lobby", holder, holder.split("-")[1], TTL)
        assert lease is not None
        tokens.append(lease.token)
        clock.now = lease.expires_at + 1
    assert tokens == [1, 2, 3, 4]


def test_renewing_extends_the_lease(leases: CameraLeases, clock: Clock) -> None:
    lease = leases.acquire("lobby", "agent-a-1", "node-a", TTL)
    assert lease is not None
    clock.now += 10
    renewed = leases.renew(lease, TTL)
    assert renewed == CameraLease("lobby", "agent-a-1", "node-a", 1, T0 + 10 + TTL)
    clock.now = lease.expires_at + 0.5
    assert leases.acquire("lobby", "agent-b-1", "node-b", TTL) is None
    assert leases.all() == [renewed]


def test_an_expired_lease_nobody_took_is_renewed_with_its_token(leases: CameraLeases, clock: Clock) -> None:
    lease = leases.acquire("lobby", "agent-a-1", "node-a", TTL)
    assert lease is not None
    clock.now = lease.expires_at + 5
    assert leases.renew(lease, TTL) == CameraLease("lobby", "agent-a-1", "node-a", 1, clock.now + TTL)
    assert leases.acquire("lobby", "agent-b-1", "node-b", TTL) is None


def test_a_lost_lease_can_be_neither_renewed_nor_released_by_its_old_holder(
    leases: CameraLeases, clock: Clock
) -> None:
    old = leases.acquire("lobby", "agent-a-1", "node-a", TTL)
    assert old is not None
    clock.now = old.expires_at + 1  # agent a paused past its TTL; agent b took over
    new = leases.acquire("lobby", "agent-b-1", "node-b", TTL)
    assert new is not None and new.token == old.token + 1
    assert leases.renew(old, TTL) is None
    leases.release(old)
    leases.release_all("agent-a-1")
    assert leases.all() == [new]
    assert leases.acquire("lobby", "agent-a-1", "node-a", TTL) is None


def test_a_stale_lease_of_the_same_holder_cannot_be_renewed(leases: CameraLeases) -> None:
    """The holder released the camera and took it again: the first lease object is from an older holding."""
    first = leases.acquire("lobby", "agent-a-1", "node-a", TTL)
    assert first is not None
    leases.release(first)
    second = leases.acquire("lobby", "agent-a-1", "node-a", TTL)
    assert second is not None and second.token == first.token + 1
    assert leases.renew(first, TTL) is None
    leases.release(first)
    assert leases.all() == [second]


def test_a_released_camera_is_free_at_once_and_its_lease_is_gone(leases: CameraLeases, clock: Clock) -> None:
    lease = leases.acquire("lobby", "agent-a-1", "node-a", TTL)
    assert lease is not None
    clock.now += 1
    leases.release(lease)
    assert leases.all() == [CameraLease("lobby", "agent-a-1", "node-a", 1, T0 + 1)]  # expires: when released
    assert leases.renew(lease, TTL) is None
    taken = leases.acquire("lobby", "agent-b-1", "node-b", TTL)  # the same instant: no wait for the TTL
    assert taken == CameraLease("lobby", "agent-b-1", "node-b", 2, T0 + 1 + TTL)


def test_release_all_lets_go_of_one_holders_cameras_only(leases: CameraLeases, clock: Clock) -> None:
    for camera in ["gate", "lobby"]:
        assert leases.acquire(camera, "agent-a-1", "node-a", TTL) is not None
    hall = leases.acquire("hall", "agent-b-1", "node-b", TTL)
    assert hall is not None
    leases.release_all("agent-a-1")
    assert [lease.camera for lease in leases.all()] == ["gate", "hall", "lobby"]  # by camera, released ones too
    for camera in ["gate", "lobby"]:
        assert leases.acquire(camera, "agent-c-1", "node-c", TTL) == CameraLease(camera, "agent-c-1", "node-c", 2,
                                                                                  T0 + TTL)
    assert leases.acquire("hall", "agent-c-1", "node-c", TTL) is None
    assert leases.renew(hall, TTL) == hall


def test_all_lists_expired_leases_too(leases: CameraLeases, clock: Clock) -> None:
    gate = leases.acquire("gate", "agent-a-1", "node-a", 5.0)
    clock.now += 10
    lobby = leases.acquire("lobby", "agent-b-1", "node-b", TTL)
    assert leases.all() == [gate, lobby]


def test_the_default_clock_is_the_wall_clock(store: EventStore) -> None:
    before = time.time()
    lease = CameraLeases(store).acquire("lobby", "agent-a-1", "node-a", TTL)
    after = time.time()
    assert lease is not None and before + TTL <= lease.expires_at <= after + TTL


def test_store_failures_name_the_store_and_the_camera(store: EventStore) -> None:
    with store.write_session.begin() as session:
        session.execute(text("DROP TABLE camera_leases"))
    expected = f"cannot acquire the lease of camera lobby in the event store {store.url}: "
    with pytest.raises(StoreError, match=re.escape(expected)):
        CameraLeases(store, Clock()).acquire("lobby", "agent-a-1", "node-a", TTL)


ROUNDS = 5
RACERS = 8


@pytest.fixture
def racers(store_url: str) -> Iterator[list[EventStore]]:
    """One store per racer on the same database: separate connection pools, as separate agents have."""
    stores = [EventStore(store_url) for _ in range(RACERS)]
    yield stores
    for store in stores:
        store.close()


def test_racing_holders_never_both_win_a_camera(racers: list[EventStore], clock: Clock) -> None:
    """Round one races the first INSERT; later rounds race the UPDATE of an expired lease."""
    leases = [CameraLeases(store, clock) for store in racers]
    barrier = threading.Barrier(RACERS)

    def race(n: int) -> CameraLease | None:
        barrier.wait()
        return leases[n].acquire("lobby", f"agent-{n}-1", f"node-{n}", TTL)

    previous: CameraLease | None = None
    with ThreadPoolExecutor(RACERS) as pool:
        for round_ in range(ROUNDS):
            results = list(pool.map(race, range(RACERS)))
            winners = [lease for lease in results if lease is not None]
            assert len(winners) == 1, f"round {round_}: {winners}"
            [winner] = winners
            expected = 1 if previous is None else previous.token + (winner.holder != previous.holder)
            assert winner.token == expected
            assert leases[0].all() == [winner]
            previous = winner
            clock.now = winner.expires_at + 1


def test_renewing_all_at_once_extends_the_held_and_reports_the_lost(leases: CameraLeases, clock: Clock) -> None:
    held = [leases.acquire(camera, "agent-a-1", "node-a", TTL) for camera in ("dock", "gate", "lobby")]
    assert all(lease is not None for lease in held)
    dock, gate, lobby = held  # type: ignore[misc]
    leases.release(gate)  # given back (a camera removed meanwhile)
    clock.now = dock.expires_at + 1  # all lapsed; another holder takes lobby
    assert leases.acquire("lobby", "agent-b-1", "node-b", TTL) is not None
    renewed = leases.renew_all([dock, gate, lobby], TTL)
    assert renewed == {"dock": CameraLease("dock", "agent-a-1", "node-a", 1, clock.now + TTL), "gate": None,
                       "lobby": None}  # a lapsed lease nobody took is renewed, as by `renew`
    assert {lease.camera: lease.holder for lease in leases.all()} == {
        "dock": "agent-a-1", "gate": "agent-a-1", "lobby": "agent-b-1"}
    assert leases.all()[0].expires_at == clock.now + TTL and leases.renew_all([], TTL) == {}


def test_live_leases_are_the_unexpired_ones_by_camera(leases: CameraLeases, clock: Clock) -> None:
    dock = leases.acquire("dock", "agent-a-1", "node-a", TTL)
    gate = leases.acquire("gate", "agent-a-1", "node-a", 2 * TTL)
    assert dock is not None and gate is not None
    assert leases.live() == {"dock": dock, "gate": gate}
    clock.now = dock.expires_at - 1
    assert set(leases.live()) == {"dock", "gate"}
    clock.now = dock.expires_at  # live is strictly before the expiry (as `cluster status` always showed)
    assert leases.live() == {"gate": gate} and leases.live(now=T0) == {"dock": dock, "gate": gate}
