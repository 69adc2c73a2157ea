"""Short event ids: what `gunwatch watch` prints (the first 8 characters) is accepted wherever an id is."""

from __future__ import annotations

import json
from collections.abc import Callable

import pytest
from typer.testing import CliRunner

from gunwatch.alerts.event_actions import EventActions, LinkRefused
from gunwatch.alerts.links import LinkClaim
from gunwatch.cli import app
from gunwatch.events.console import event_line
from gunwatch.events.model import ThreatEvent
from gunwatch.events.store import EventStore, UnknownEventId
from gunwatch.events.store.schema import ProtocolRunRow

FIRST = "3fa85f6457174562b3fc2c963f66afa6"
TWIN = "3fa85f64aaaa4562b3fc2c963f66afa6"  # shares its first 8 characters with FIRST
OTHER = "9c1d2e3f40514a6b8c7d6e5f4a3b2c1d"


@pytest.fixture
def events(store: EventStore, make_event: Callable[..., ThreatEvent]) -> EventStore:
    for event_id in (FIRST, TWIN, OTHER):
        store.save_event(make_event(id=event_id))
    return store


def test_a_full_id_names_its_event(events: EventStore) -> None:
    assert events.resolve_id(FIRST) == FIRST
    assert events.resolve_id(f" {OTHER}\n") == OTHER


def test_a_unique_prefix_names_its_event(events: EventStore) -> None:
    assert events.resolve_id(OTHER[:6]) == OTHER
    assert events.resolve_id(FIRST[:9]) == FIRST
    assert events.resolve_id(TWIN[:12]) == TWIN


def test_an_ambiguous_prefix_lists_the_candidates(events: EventStore) -> None:
    with pytest.raises(UnknownEventId) as raised:
        events.resolve_id(FIRST[:8])
    message = str(raised.value)
    assert "several" in message and FIRST in message and TWIN in message and OTHER not in message


def test_a_prefix_shorter_than_six_characters_is_refused(events: EventStore) -> None:
    with pytest.raises(UnknownEventId, match="at least 6"):
        events.resolve_id(OTHER[:5])


def test_no_match_says_so(events: EventStore) -> None:
    with pytest.raises(UnknownEventId, match="no event whose id is or starts with abcdef0"):
        events.resolve_id("abcdef0")
    with pytest.raises(UnknownEventId, match="give an event id"):
        events.resolve_id("  ")


def test_like_wildcards_in_a_prefix_match_only_themselves(events: EventStore) -> None:
    with pytest.raises(UnknownEventId, match="no event"):
        events.resolve_id("3fa85f%")
    with pytest.raises(UnknownEventId, match="no event"):
        events.resolve_id("______")


def test_a_camera_offline_incident_is_found_by_its_runs(events: EventStore) -> None:
    subject = "offline-0123456789abcdef01234567"
    with events.write_session.begin() as session:
        session.add(ProtocolRunRow(protocol="offline", subject=subject, trigger="camera_offline", event_id=subject,
                                   camera="lobby", state="done", step=0, escalated=0, wake_at=None, context={},
                                   started_at=1.0, updated_at=1.0))
    assert events.resolve_id(subject) == subject
    assert events.resolve_id("offline-0123") == subject


def run(*args: str):
    return CliRunner().invoke(app, list(args))


@pytest.mark.parametrize("store_url", ["sqlite"], indirect=True)
def test_the_id_watch_prints_is_accepted_by_event_show(events: EventStore, store_url: str,
                                                       make_event: Callable[..., ThreatEvent]) -> None:
    printed = event_line(make_event(id=OTHER))  # what `gunwatch watch` shows of the event
    short = printed.split(" id ")[1].split()[0]
    assert OTHER.startswith(short) and len(short) < len(OTHER)
    result = run("event", "show", short, "--store", store_url, "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["id"] == OTHER


@pytest.mark.parametrize("store_url", ["sqlite"], indirect=True)
def test_event_show_refuses_an_ambiguous_short_id_naming_the_candidates(events: EventStore, store_url: str) -> None:
    result = run("event", "show", FIRST[:8], "--store", store_url)
    assert result.exit_code == 2
    assert FIRST in result.stderr and TWIN in result.stderr


@pytest.mark.parametrize("store_url", ["sqlite"], indirect=True)
def test_actions_take_a_short_id(events: EventStore, store_url: str) -> None:
    result = run("event", "ack", OTHER[:8], "--store", store_url, "--by", "alice")
    assert result.exit_code == 0, result.output
    assert f"event {OTHER}: acknowledged" in result.stderr
    assert events.dispositions([OTHER]) == {OTHER: "acknowledged"}
    result = run("event", "false-alarm", TWIN[:10], "--store", store_url, "--by", "alice")
    assert result.exit_code == 0, result.output
    assert events.dispositions([TWIN]) == {TWIN: "false_alarm"}
    refused = run("event", "resolve", FIRST[:8], "--store", store_url)
    assert refused.exit_code == 2 and "several" in refused.stderr
    assert FIRST not in events.dispositions([FIRST])


@pytest.mark.parametrize("store_url", ["sqlite"], indirect=True)
def test_revoke_links_takes_a_short_id(events: EventStore, store_url: str) -> None:
    result = run("event", "revoke-links", OTHER[:7], "--store", store_url, "--by", "alice")
    assert result.exit_code == 0, result.output
    assert f"event {OTHER}: revoked every link issued until now" in result.stderr
    claim = LinkClaim(event_id=OTHER, action="ack", recipient="bob", kind="alert", issued_at=0.0, expires_at=1e12,
                      token_id="t1")
    with pytest.raises(LinkRefused, match="revoked"):
        EventActions(events).perform("ack", OTHER, "link:bob", link=claim)
