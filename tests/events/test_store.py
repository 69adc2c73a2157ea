"""EventStore on SQLite and on a real PostgreSQL server: round trips, one row per event, order, health."""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime

import pytest
from sqlalchemy import create_engine, text

from gunwatch.events.model import Evidence, ThreatEvent
from gunwatch.events.store import EventStore
from gunwatch.events.store.engine import parse_store_url

MakeEvent = Callable[..., ThreatEvent]


def rows(url: str, sql: str) -> list[tuple]:
    """Raw rows, read past the store's own types."""
    engine = create_engine(parse_store_url(url))
    try:
        with engine.connect() as connection:
            return [tuple(row) for row in connection.execute(text(sql))]
    finally:
        engine.dispose()


def test_an_event_comes_back_as_it_was_saved(store: EventStore, make_event: MakeEvent) -> None:
    event = make_event(evidence=Evidence("a.jpg", "a-boxes.jpg", "a.mp4"), boxes=[(1, 2, 3, 4), (5, 6, 7, 8.5)])
    store.save_event(event)
    loaded = store.get_event(event.id)
    assert loaded == event
    assert isinstance(loaded.best_box, tuple) and all(isinstance(box, tuple) for box in loaded.boxes)


def test_optional_fields_may_be_empty(store: EventStore, make_event: MakeEvent) -> None:
    event = make_event(zone=None, track_id=None, first_pts=None, boxes=[], evidence=Evidence())
    store.save_event(event)
    assert store.get_event(event.id) == event


def test_times_keep_microseconds(store: EventStore, make_event: MakeEvent, t0: float) -> None:
    event = make_event(first_seen=t0 + 0.123456, last_seen=t0 + 1 / 3)
    store.save_event(event)
    loaded = store.get_event(event.id)
    assert loaded.first_seen == pytest.approx(event.first_seen, abs=1e-6)
    assert loaded.last_seen == pytest.approx(event.last_seen, abs=1e-6)


def test_times_are_stored_as_utc_timestamps(
    store: EventStore, store_url: str, make_event: MakeEvent, t0: float
) -> None:
    store.save_event(make_event(first_seen=t0 + 0.125))
    [(stored,)] = rows(store_url, "SELECT first_seen FROM threat_events")
    expected = datetime(2025, 6, 15, 15, 6, 40, 125000, tzinfo=UTC)
    if isinstance(stored, str):  # SQLite: text, UTC without a zone
        assert stored.startswith("2025-06-15 15:06:40.125")
    else:  # PostgreSQL: timestamp with time zone
        assert stored == expected


def test_a_missing_event_is_none(store: EventStore) -> None:
    assert store.get_event("no-such-id") is None


def test_open_updated_closed_is_one_row(store: EventStore, store_url: str, make_event: MakeEvent, t0: float) -> None:
    event = make_event()
    store.save_event(event)
    event = replace(event, state="updated", max_score=0.93, last_seen=t0 + 2.0,
                    evidence=replace(event.evidence, clip="runs/evidence/a.mp4"))
    store.save_event(event)
    event = replace(event, state="closed", closed_at=t0 + 12.0)
    store.save_event(event)
    assert store.get_event(event.id) == event
    sql = "SELECT count(*), min(created_at), max(updated_at) FROM threat_events"
    [(count, created, updated)] = rows(store_url, sql)
    assert count == 1
    assert created != updated  # the update kept the time the row was created


def test_events_are_listed_newest_first(store: EventStore, make_event: MakeEvent, t0: float) -> None:
    for offset in (5.0, 1.0, 9.0, 3.0):
        store.save_event(make_event(confirmed_at=t0 + offset, id=f"event-{offset:g}"))
    assert [e.id for e in store.list_events()] == ["event-9", "event-5", "event-3", "event-1"]
    assert [e.id for e in store.list_events(limit=2)] == ["event-9", "event-5"]


def test_events_can_be_listed_for_one_camera(store: EventStore, make_event: MakeEvent, t0: float) -> None:
    store.save_event(make_event(camera="lobby", id="a"))
    store.save_event(make_event(camera="gate", id="b", confirmed_at=t0 + 1))
    store.save_event(make_event(camera="lobby", id="c", confirmed_at=t0 + 2))
    assert [e.id for e in store.list_events(camera="lobby")] == ["c", "a"]
    assert store.list_events(camera="nowhere") == []


def test_an_unknown_event_state_is_refused(store: EventStore, make_event: MakeEvent) -> None:
    with pytest.raises(ValueError, match="open, updated, closed"):
        store.save_event(make_event(state="pending"))


def test_cameras_are_stored_with_their_password_hidden(store: EventStore, store_url: str) -> None:
    store.upsert_camera("lobby", "rtsp://admin:hunter2@10.0.0.5/stream?token=abc", "rtsp")
    store.upsert_camera("gate", "videos/gate.mp4", "file")
    store.upsert_camera("lobby", "rtsp://admin:hunter2@10.0.0.6/stream", "rtsp")  # the address changed
    status = {camera.name: camera for camera in store.camera_status()}
    assert status["lobby"].url == "rtsp://admin:***@10.0.0.6/stream"
    assert (status["gate"].url, status["gate"].kind, status["gate"].state) == ("videos/gate.mp4", "file", None)
    assert not any("hunter2" in str(row) for row in rows(store_url, "SELECT * FROM cameras"))


def test_health_history_and_current_state(store: EventStore, t0: float) -> None:
    store.upsert_camera("lobby", "rtsp://cam/lobby", "rtsp")
    store.record_health("lobby", "online", "connected", t0)
    store.record_health("lobby", "stalled", "no frame for 10 s", t0 + 60)
    store.record_health("lobby", "offline", "connection refused", t0 + 70)
    store.record_health("lobby", "online", "connected", t0 + 90)
    [lobby] = store.camera_status(recent=3)
    assert (lobby.state, lobby.reason, lobby.state_at) == ("online", "connected", t0 + 90)
    assert [(c.state, c.at) for c in lobby.recent] == [("online", t0 + 90), ("offline", t0 + 70), ("stalled", t0 + 60)]
    assert len(store.camera_status(recent=10)[0].recent) == 4
    assert store.camera_status(recent=0)[0].recent == []


def test_online_since_names_the_cameras_that_came_online_then_or_later(store: EventStore, t0: float) -> None:
    store.record_health("lobby", "online", "connected", t0)
    store.record_health("gate", "online", "connected", t0 + 30)
    store.record_health("dock", "online", "connected", t0 + 40)
    store.record_health("dock", "offline", "connection refused", t0 + 50)
    assert store.online_since() == {"lobby", "gate"}
    assert store.online_since(t0 + 30) == {"gate"}  # lobby has been online since before
    assert store.online_since(t0 + 31) == set()


def test_a_late_older_health_record_does_not_replace_the_current_state(store: EventStore, t0: float) -> None:
    store.record_health("lobby", "offline", "timeout", t0 + 10)
    store.record_health("lobby", "online", "connected", t0 + 5)  # arrives last, happened first
    [lobby] = store.camera_status()
    assert (lobby.state, lobby.state_at) == ("offline", t0 + 10)
    assert [c.state for c in lobby.recent] == ["offline", "online"]


def test_health_of_an_unregistered_camera_registers_it(store: EventStore, t0: float) -> None:
    store.record_health("gate", "stalled", None, t0)
    [gate] = store.camera_status()
    assert (gate.name, gate.url, gate.state, gate.reason) == ("gate", None, "stalled", None)


def test_an_unknown_health_state_is_refused(store: EventStore, t0: float) -> None:
    with pytest.raises(ValueError, match="online, offline, stalled"):
        store.record_health("lobby", "sleeping", None, t0)  # type: ignore[arg-type]


def test_threads_can_share_one_store(store: EventStore, make_event: MakeEvent, t0: float) -> None:
    threads, events_each = 8, 10
    errors: list[BaseException] = []

    def work(worker: int) -> None:
        try:
            camera = f"cam{worker}"
            for n in range(events_each):
                event = make_event(camera=camera, id=f"{camera}-{n}", confirmed_at=t0 + n)
                store.save_event(event)
                store.record_health(camera, "online" if n % 2 else "stalled", f"step {n}", t0 + n)
                store.save_event(replace(event, state="closed"))
                store.list_events(limit=5)
        except BaseException as error:  # reported by the main thread
            errors.append(error)

    workers = [threading.Thread(target=work, args=(w,)) for w in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    assert errors == []
    events = store.list_events(limit=1000)
    assert len(events) == threads * events_each
    assert {e.state for e in events} == {"closed"}
    cameras = store.camera_status(recent=100)
    assert [(c.name, c.state, len(c.recent)) for c in cameras] == [(f"cam{w}", "online", 10) for w in range(threads)]


def test_stores_opened_at_once_share_one_schema(store_url: str) -> None:
    """The pipeline and a read command may open the same fresh store together: migrations take turns."""
    errors: list[BaseException] = []

    def open_store() -> None:
        try:
            EventStore(store_url).close()
        except BaseException as error:  # reported by the main thread
            errors.append(error)

    openers = [threading.Thread(target=open_store) for _ in range(4)]
    for opener in openers:
        opener.start()
    for opener in openers:
        opener.join()
    assert errors == []
