"""CameraService: stored health merged with the watch's live numbers, health history and live frames, within
the principal's camera access (a hidden camera reads as an unknown one)."""

from __future__ import annotations

import pytest

from gunwatch.events.store import EventStore
from gunwatch.service.cameras import CameraService
from gunwatch.service.errors import NotFound
from gunwatch.users.principal import AccessDenied, Principal
from service.conftest import ADMIN, LOBBY_ONLY, VIEWER, FixedLiveView, camera_live, jpeg


@pytest.fixture
def cameras(store: EventStore) -> EventStore:
    store.upsert_camera("lobby", "rtsp://admin:secret@10.0.0.5/stream", "rtsp")
    store.upsert_camera("hall", "rtsp://10.0.0.6/stream", "rtsp")
    store.record_health("lobby", "offline", "connection refused", at=1000.0)
    store.record_health("lobby", "online", "frames arrive", at=1010.0)
    store.record_health("hall", "stalled", "no frame for 10 s", at=1005.0)
    return store


def test_list_merges_stored_health_with_live_numbers(cameras: EventStore) -> None:
    live = FixedLiveView([camera_live("lobby", top_score=0.42), camera_live("garage")])
    views = CameraService(cameras, live).list(ADMIN)
    assert [view.name for view in views] == ["garage", "hall", "lobby"]
    garage, hall, lobby = views
    assert (lobby.state, lobby.reason, lobby.kind) == ("online", "frames arrive", "rtsp")
    assert [change.state for change in lobby.recent] == ["online", "offline"]
    assert lobby.live is not None and lobby.live.top_score == 0.42
    assert hall.live is None and hall.state == "stalled"
    assert garage.state is None and garage.live is not None  # watched, not in the store yet


def test_without_a_live_view_the_store_alone_answers(cameras: EventStore) -> None:
    service = CameraService(cameras)
    assert [(view.name, view.state, view.live) for view in service.list(VIEWER)] == [
        ("hall", "stalled", None), ("lobby", "online", None)]
    with pytest.raises(NotFound, match="this console does not run the cameras"):
        service.frame(VIEWER, "lobby")


def test_camera_access_hides_other_cameras_health_and_frames(cameras: EventStore) -> None:
    live = FixedLiveView([camera_live("lobby"), camera_live("hall")], {"lobby": (jpeg(), 5.0), "hall": (jpeg(), 6.0)})
    service = CameraService(cameras, live)
    assert [view.name for view in service.list(LOBBY_ONLY)] == ["lobby"]
    assert service.frame(LOBBY_ONLY, "lobby")[1] == 5.0
    with pytest.raises(NotFound, match="no camera hall"):
        service.frame(LOBBY_ONLY, "hall")
    with pytest.raises(NotFound, match="no camera hall"):
        service.health_history(LOBBY_ONLY, "hall")
    with pytest.raises(NotFound, match="no camera attic"):
        service.health_history(ADMIN, "attic")


def test_health_history_is_newest_first_from_since(cameras: EventStore) -> None:
    service = CameraService(cameras)
    assert [(c.state, c.at) for c in service.health_history(VIEWER, "lobby")] == [("online", 1010.0),
                                                                                  ("offline", 1000.0)]
    assert [c.state for c in service.health_history(VIEWER, "lobby", since=1005.0)] == ["online"]
    assert [c.state for c in service.health_history(VIEWER, "lobby", limit=1)] == ["online"]


def test_scopes_are_checked(cameras: EventStore) -> None:
    service = CameraService(cameras, FixedLiveView([], {"lobby": (jpeg(), 1.0)}))
    no_live = Principal("int", "viewer", frozenset({"cameras:read"}), None, "token", "vms")
    assert [view.name for view in service.list(no_live)] == ["hall", "lobby"]
    with pytest.raises(AccessDenied, match=r"token:vms \(user:int\) may not live read"):
        service.frame(no_live, "lobby")
    with pytest.raises(AccessDenied, match="may not cameras read"):
        service.list(Principal("int", "viewer", frozenset({"events:read"})))
