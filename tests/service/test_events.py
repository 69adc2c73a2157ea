"""EventService: the timeline's filters and pages, one event's story, evidence and actions, each checked against
the principal (scopes and camera access; a hidden event reads as an unknown one)."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import pytest

from gunwatch.alerts.audit import AuditLog
from gunwatch.alerts.event_actions import ActionRefused, EventActions
from gunwatch.events.model import Evidence, ThreatEvent
from gunwatch.events.store import EventStore
from gunwatch.service.errors import InvalidRequest, NotFound
from gunwatch.service.events import EventFilter, EventService
from gunwatch.users.principal import AccessDenied, Principal
from service.conftest import ADMIN, LOBBY_ONLY, OPERATOR, VIEWER


@pytest.fixture
def service(store: EventStore) -> EventService:
    return EventService(store, EventActions(store))


def ids(summaries: list) -> list[str]:
    return [summary.event.id for summary in summaries]


def test_list_is_newest_first_and_filters_by_camera_time_state_and_disposition(
        service: EventService, save_event: Callable[..., ThreatEvent]) -> None:
    now = time.time()
    old = save_event("lobby", now - 300, state="closed", closed_at=now - 200)
    hall = save_event("hall", now - 200)
    lobby = save_event("lobby", now - 100)
    service.act(ADMIN, hall.id, "ack")
    service.act(ADMIN, lobby.id, "false_alarm", note="a phone")

    assert ids(service.list(ADMIN)) == [lobby.id, hall.id, old.id]
    assert ids(service.list(ADMIN, EventFilter(cameras=frozenset({"lobby"})))) == [lobby.id, old.id]
    assert ids(service.list(ADMIN, EventFilter(since=now - 250))) == [lobby.id, hall.id]
    assert ids(service.list(ADMIN, EventFilter(until=now - 150))) == [hall.id, old.id]
    assert ids(service.list(ADMIN, EventFilter(states=frozenset({"closed"})))) == [old.id]
    assert ids(service.list(ADMIN, EventFilter(dispositions=frozenset({"none"})))) == [old.id]
    assert ids(service.list(ADMIN, EventFilter(dispositions=frozenset({"false_alarm", "none"})))) == [lobby.id, old.id]

    by_id = {summary.event.id: summary for summary in service.list(ADMIN)}
    assert by_id[hall.id].disposition is not None and by_id[hall.id].disposition.disposition == "acknowledged"
    assert by_id[hall.id].acknowledged and not by_id[lobby.id].acknowledged and by_id[old.id].disposition is None
    assert by_id[lobby.id].disposition.note == "a phone" and by_id[lobby.id].disposition.actor == "user:ada"


def test_pages_follow_the_cursor_without_gaps_or_repeats(
        service: EventService, save_event: Callable[..., ThreatEvent]) -> None:
    at = time.time() - 1000
    # Two pairs share a confirmation time: the id decides their order, on every backend.
    saved = [save_event("lobby", at + second) for second in (0, 1, 1, 2, 3, 3, 4)]
    pages, cursor = [], None
    while True:
        page = ids(service.list(ADMIN, EventFilter(limit=2, before=cursor)))
        if not page:
            break
        pages.append(page)
        cursor = page[-1]
    seen = [event_id for page in pages for event_id in page]
    assert sorted(seen) == sorted(event.id for event in saved) and len(seen) == len(set(seen))
    assert seen == ids(service.list(ADMIN, EventFilter(limit=100)))


def test_a_camera_outside_access_hides_its_events_everywhere(
        service: EventService, save_event: Callable[..., ThreatEvent], tmp_path: Path) -> None:
    snapshot = tmp_path / "s.jpg"
    snapshot.write_bytes(b"jpeg")
    lobby = save_event("lobby")
    hall = save_event("hall", evidence=Evidence(snapshot=str(snapshot)))

    assert ids(service.list(LOBBY_ONLY)) == [lobby.id]
    assert ids(service.list(LOBBY_ONLY, EventFilter(cameras=frozenset({"hall"})))) == []
    for call in (lambda: service.get(LOBBY_ONLY, hall.id),
                 lambda: service.summary(LOBBY_ONLY, hall.id),
                 lambda: service.evidence_path(LOBBY_ONLY, hall.id, "snapshot"),
                 lambda: service.act(LOBBY_ONLY, hall.id, "ack")):
        with pytest.raises(NotFound, match=f"no event {hall.id}"):
            call()
    # Exactly what an id nobody knows gives.
    with pytest.raises(NotFound, match="no event nope"):
        service.get(LOBBY_ONLY, "nope")
    with pytest.raises(InvalidRequest, match="unknown cursor"):
        service.list(LOBBY_ONLY, EventFilter(before=hall.id))
    assert AuditLog(service.store).of_event(hall.id) == []
    assert service.evidence_path(ADMIN, hall.id, "snapshot") == snapshot


def test_get_tells_the_whole_story(service: EventService, save_event: Callable[..., ThreatEvent],
                                   start_protocol: Callable[[ThreatEvent], int]) -> None:
    event = save_event("lobby")
    run_id = start_protocol(event)
    service.act(OPERATOR, event.id, "confirm", note="seen on the wall")

    detail = service.get(VIEWER, event.id)
    assert detail.event is not None and detail.event.id == event.id and detail.camera == "lobby"
    assert detail.disposition is not None and detail.disposition.disposition == "confirmed"
    assert detail.disposition.actor == "user:otto" and detail.disposition.note == "seen on the wall"
    assert [run.id for run in detail.runs] == [run_id]
    assert [(d.channel, d.recipient, d.kind) for d in detail.deliveries] == [("email", "alice", "alert")]
    assert ("user:otto", "event.confirmed") in [(entry.actor, entry.action) for entry in detail.audit]


def test_actions_need_events_act_and_are_recorded_with_the_actor(
        service: EventService, save_event: Callable[..., ThreatEvent]) -> None:
    event = save_event("lobby")
    with pytest.raises(AccessDenied, match="user:vera may not events act"):
        service.act(VIEWER, event.id, "ack")
    assert service.summary(ADMIN, event.id).disposition is None

    result = service.act(OPERATOR, event.id, "false-alarm", note="umbrella")
    assert result.disposition == "false_alarm" and result.changed
    token = Principal("otto", "operator", OPERATOR.scopes, None, "token", "vms")
    with pytest.raises(ActionRefused, match="already false alarm"):
        service.act(token, event.id, "resolve")
    actions = [(e.actor, e.action, e.detail.get("note")) for e in AuditLog(service.store).of_event(event.id)
               if e.action.startswith("event.")]
    assert ("user:otto", "event.false_alarm", "umbrella") in actions


def test_bad_requests_say_what_is_wrong(service: EventService, save_event: Callable[..., ThreatEvent]) -> None:
    event = save_event("lobby")
    with pytest.raises(InvalidRequest, match="unknown action 'explode'; known: ack, confirm, false_alarm, resolve"):
        service.act(ADMIN, event.id, "explode")
    with pytest.raises(InvalidRequest, match="evidence is one of snapshot, annotated, clip, not 'raw'"):
        service.evidence_path(ADMIN, event.id, "raw")
    with pytest.raises(InvalidRequest, match="unknown state 'gone'"):
        EventFilter(states=frozenset({"gone"}))
    with pytest.raises(InvalidRequest, match="unknown disposition 'maybe'"):
        EventFilter(dispositions=frozenset({"maybe"}))
    with pytest.raises(InvalidRequest, match="limit must be between 1 and 500, not 0"):
        EventFilter(limit=0)
    with pytest.raises(AccessDenied, match="user:nobody may not events read"):
        service.list(Principal("nobody", "viewer", frozenset()))


def test_evidence_is_none_until_its_file_is_there(service: EventService, save_event: Callable[..., ThreatEvent],
                                                  tmp_path: Path) -> None:
    clip = tmp_path / "clip.mp4"
    event = save_event("lobby", evidence=Evidence(clip=str(clip)))
    assert service.evidence_path(VIEWER, event.id, "snapshot") is None
    assert service.evidence_path(VIEWER, event.id, "clip") is None  # named, not written yet
    clip.write_bytes(b"mp4")
    assert service.evidence_path(VIEWER, event.id, "clip") == clip


@pytest.mark.parametrize("store_url", ["sqlite"], indirect=True)
def test_times_the_store_cannot_hold_are_refused_in_words(service: EventService) -> None:
    for bad in (float("nan"), float("inf"), -1.0, 1e20):
        with pytest.raises(InvalidRequest, match="since must be epoch seconds from 0 to 253402300799"):
            service.list(ADMIN, EventFilter(since=bad))
