"""Revoking links (the service call and `gunwatch event revoke-links`), and what a revocation covers."""

from __future__ import annotations

import time
from pathlib import Path

from typer.testing import CliRunner

from gunwatch.alerts.audit import AuditLog
from gunwatch.alerts.link_checks import LinkRevocations
from gunwatch.alerts.links import LinkClaim, make_token, read_token
from gunwatch.cli import app
from gunwatch.events.model import ThreatEvent
from gunwatch.events.store import EventStore

SECRET = "a-link-secret-of-32-characters!!"
BASE = "https://gunwatch.school.org"


def claim_of(event_id: str, action: str = "ack", recipient: str = "alice", at: float | None = None) -> LinkClaim:
    now = time.time() if at is None else at
    return read_token(SECRET, make_token(SECRET, event_id, action, "alert", recipient, now, now + 600), now)


def url_of(claim: LinkClaim) -> str:
    token = make_token(SECRET, claim.event_id, claim.action, claim.kind, claim.recipient, claim.issued_at,
                       claim.expires_at, token_id=claim.token_id)
    return f"{BASE}/act/{token}"


def saved_event(store: EventStore) -> ThreatEvent:
    now = time.time()
    event = ThreatEvent(camera="lobby", state="open", first_seen=now, confirmed_at=now, last_seen=now,
                        max_score=0.9, best_box=(0.0, 0.0, 1.0, 1.0))
    store.save_event(event)
    return event


def test_revoking_one_link_leaves_the_others(store: EventStore) -> None:
    event = saved_event(store)
    one, other = claim_of(event.id), claim_of(event.id, "resolve", "bob")
    revocations = LinkRevocations(store)
    revocations.revoke(event.id, "guard:dana", [one.token_id], "sent to the wrong list")
    assert revocations.refusal(one) == "it was revoked by guard:dana"
    assert revocations.refusal(other) is None
    assert revocations.refusal(claim_of("another-event")) is None
    [entry] = [e for e in AuditLog(store).of_event(event.id) if e.action == "links.revoked"]
    assert (entry.actor, entry.detail["links"], entry.detail["reason"]) == (
        "guard:dana", one.token_id, "sent to the wrong list")


def test_revoking_an_events_links_covers_those_issued_until_then(store: EventStore) -> None:
    event = saved_event(store)
    now = time.time()
    earlier, later = claim_of(event.id, at=now - 10), claim_of(event.id, at=now + 10)
    LinkRevocations(store).revoke(event.id, "guard:dana", now=now)
    assert LinkRevocations(store).refusal(earlier) is not None
    assert LinkRevocations(store).refusal(later) is None


def test_the_command_revokes_every_link_or_those_given(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'store.db'}"
    with EventStore(url) as store:
        event = saved_event(store)
        first, second = claim_of(event.id), claim_of(event.id, "false_alarm", "bob")
        runner = CliRunner()
        result = runner.invoke(app, ["event", "revoke-links", event.id, "--store", url, "--link", url_of(first),
                                     "--by", "guard:dana", "--reason", "forwarded"])
        assert result.exit_code == 0, result.output
        assert f"event {event.id}: revoked 1 link(s)" in result.output
        revocations = LinkRevocations(store)
        assert revocations.refusal(first) == "it was revoked by guard:dana"
        assert revocations.refusal(second) is None

        # A link of another event is refused, and nothing is revoked.
        wrong = runner.invoke(app, ["event", "revoke-links", event.id, "--store", url,
                                    "--link", url_of(claim_of("other-event"))])
        assert wrong.exit_code != 0 and "not a link of event" in wrong.output
        assert revocations.refusal(second) is None

        everything = runner.invoke(app, ["event", "revoke-links", event.id, "--store", url])
        assert everything.exit_code == 0 and "every link issued until now" in everything.output
        assert revocations.refusal(second) is not None
