"""The store writer: an event's versions committed in order, files merged into the newest, never waited for."""

from __future__ import annotations

import dataclasses
import threading
from pathlib import Path

from gunwatch.events.model import Evidence, ThreatEvent
from gunwatch.events.store import EventStore
from gunwatch.pipeline.store_writer import StoreWriter
from gunwatch.video.health import HealthChange

T0 = 1_750_000_000.0


class HeldStore(EventStore):
    """A real SQLite store whose writes first wait for `release`: a database that hangs."""

    def __init__(self, url: str) -> None:
        super().__init__(url)
        self.release = threading.Event()
        self.held = threading.Event()
        self.saved: list[ThreatEvent] = []  # in commit order

    def save_event(self, event: ThreatEvent) -> None:
        self.held.set()
        assert self.release.wait(30), "the test never released the store"
        super().save_event(event)
        self.saved.append(event)


def opened(camera: str = "lobby") -> ThreatEvent:
    return ThreatEvent(camera, "open", T0, T0 + 0.4, T0 + 0.4, 0.8, (10, 10, 50, 50))


def test_versions_and_files_are_stored_in_order_and_a_late_file_never_reopens_the_event(tmp_path: Path) -> None:
    store = HeldStore(f"sqlite:///{tmp_path / 'events.db'}")
    heard: list[ThreatEvent] = []
    writer = StoreWriter(store, heard.append).start()
    first = opened()
    grown = dataclasses.replace(first, state="updated", max_score=0.9, last_seen=T0 + 1)
    closed = dataclasses.replace(grown, state="closed", closed_at=T0 + 11)
    try:
        # Put on this thread while the store hangs: each call returns at once.
        assert writer.camera_added("lobby", "rtsp://cam/lobby", "rtsp")
        assert writer.event_changed(first) and store.held.wait(30)
        assert writer.event_changed(grown)
        assert writer.files_written(first, Evidence(snapshot="a.jpg", annotated="a-boxes.jpg"), notify=False)
        assert writer.event_changed(closed)
        assert writer.files_written(first, Evidence(clip="a.mp4"), notify=True)  # the clip, after the close
        assert writer.camera_health(HealthChange("lobby", "offline", "gone", T0 + 12))
        assert heard == [] and writer.stats().waiting == 6
    finally:
        store.release.set()
    assert writer.wait_idle(30)
    writer.close(30)

    assert [(e.state, e.evidence.snapshot, e.evidence.clip) for e in store.saved] == [
        ("open", None, None), ("updated", None, None), ("updated", "a.jpg", None), ("closed", "a.jpg", None),
        ("closed", "a.jpg", "a.mp4")]
    row = store.get_event(first.id)
    assert row is not None and row.state == "closed" and row.max_score == 0.9
    assert row.evidence == Evidence("a.jpg", "a-boxes.jpg", "a.mp4")
    # on_event hears the confirmer's versions and the clip's, each as stored; not the snapshot's save.
    assert [(e.state, e.evidence.clip) for e in heard] == [("open", None), ("updated", None), ("closed", None),
                                                           ("closed", "a.mp4")]
    assert first.evidence == Evidence()  # the versions handed in are unchanged
    assert {s.name: s.state for s in store.camera_status()} == {"lobby": "offline"}
    store.close()


def test_files_of_an_event_it_never_saw_are_stored_with_that_version(tmp_path: Path) -> None:
    store = EventStore(f"sqlite:///{tmp_path / 'events.db'}")
    writer = StoreWriter(store).start()
    event = opened()
    writer.files_written(event, Evidence(clip="b.mp4"), notify=False)
    writer.close(30)
    row = store.get_event(event.id)
    assert row is not None and row.state == "open" and row.evidence.clip == "b.mp4"
    store.close()


def test_with_leases_a_camera_is_written_only_under_its_lease_and_what_it_lost_is_not_heard(tmp_path: Path) -> None:
    from gunwatch.events.store.leases import CameraLeases

    clock = [T0]
    store = EventStore(f"sqlite:///{tmp_path / 'events.db'}")
    leases = CameraLeases(store, lambda: clock[0])
    held = {"lobby": leases.acquire("lobby", "agent-a-1", "node-a", 15)}
    heard: list[ThreatEvent] = []
    writer = StoreWriter(store, heard.append)
    writer.lease_of = held.get
    writer.start()
    first = opened()
    assert writer.event_changed(first) and writer.camera_health(HealthChange("lobby", "online", "up", T0))
    assert writer.wait_idle(30)
    assert heard == [first] and store.get_event(first.id) is not None
    # The lease lapses (a long pause) and another agent takes the camera; this one has not noticed yet.
    clock[0] = T0 + 20
    assert leases.acquire("lobby", "agent-b-1", "node-b", 15) is not None
    stale = dataclasses.replace(first, state="updated", max_score=0.99, last_seen=T0 + 19)
    assert writer.event_changed(stale) and writer.camera_health(HealthChange("lobby", "offline", "stale", T0 + 19))
    assert writer.event_changed(opened("hall"))  # a camera never leased here
    assert writer.wait_idle(30)
    writer.close(30)
    assert heard == [first]  # neither the stale version nor the unleased camera's event reached the alerts
    stored = store.get_event(first.id)
    assert stored is not None and (stored.state, stored.max_score) == ("open", 0.8)
    assert [(camera.name, camera.state) for camera in store.camera_status()] == [("lobby", "online")]
    assert [event.camera for event in store.list_events()] == ["lobby"]
