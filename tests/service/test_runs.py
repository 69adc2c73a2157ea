"""RunService: protocol runs with their deliveries, filtered by event and state, within camera access."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from gunwatch.alerts.event_actions import EventActions
from gunwatch.events.model import ThreatEvent
from gunwatch.events.store import EventStore
from gunwatch.service.errors import InvalidRequest
from gunwatch.service.runs import RunService
from service.conftest import ADMIN, LOBBY_ONLY, VIEWER


def test_runs_carry_their_deliveries_and_filter_by_event_state_and_camera(
        store: EventStore, save_event: Callable[..., ThreatEvent],
        start_protocol: Callable[[ThreatEvent], int]) -> None:
    lobby, hall = save_event("lobby"), save_event("hall")
    lobby_run, hall_run = start_protocol(lobby), start_protocol(hall)
    EventActions(store).false_alarm(hall.id, "cli:dana")
    service = RunService(store)

    runs = {run.id: run for run in service.list(ADMIN)}
    assert sorted(runs) == sorted([lobby_run, hall_run])
    assert (runs[lobby_run].protocol, runs[lobby_run].camera, runs[lobby_run].event_id) == ("lockdown", "lobby",
                                                                                           lobby.id)
    assert [(d.kind, d.channel, d.recipient) for d in runs[lobby_run].deliveries] == [("alert", "email", "alice")]
    assert runs[hall_run].state == "aborted"
    assert [run.id for run in service.list(VIEWER, event_id=lobby.id)] == [lobby_run]
    assert [run.id for run in service.list(VIEWER, state="aborted")] == [hall_run]
    assert [run.id for run in service.list(LOBBY_ONLY)] == [lobby_run]
    assert service.list(LOBBY_ONLY, event_id=hall.id) == []


def test_bad_filters_are_refused(store: EventStore) -> None:
    with pytest.raises(InvalidRequest, match="unknown run state 'lost'; known: verifying, running"):
        RunService(store).list(ADMIN, state="lost")
    with pytest.raises(InvalidRequest, match="limit must be between 1 and 500, not 1000"):
        RunService(store).list(ADMIN, limit=1000)
