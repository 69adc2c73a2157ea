"""A protocol's wait_ack step after an acknowledgement followed by a confirm: the acknowledgement stands, and
nobody is escalated to when the wait's deadline passes.

A confirm after an acknowledgement becomes the event's latest word; the acknowledgement must not be lost
with it. The engine runs on its own clock (`now`), so the deadline is passed without waiting for it; the
deliveries are only queued (no dispatcher), which is where an escalation would show.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import pytest

from gunwatch.alerts.audit import AuditLog
from gunwatch.alerts.event_actions import EventActions
from gunwatch.alerts.outbox import Outbox
from gunwatch.alerts.protocols.engine import ProtocolEngine
from gunwatch.config.alerts import AlertSettings
from gunwatch.events.model import ThreatEvent
from gunwatch.events.store import EventStore

pytestmark = pytest.mark.parametrize("store_url", ["sqlite"], indirect=True)

WAIT_S = 60.0
ANSWERS: dict[str, list[str]] = {  # case: what people say, in order, before the wait's deadline
    "ack then confirm": ["acknowledge", "confirm"],
    "confirm then ack": ["confirm", "acknowledge"],
    "ack, confirm, ack again": ["acknowledge", "confirm", "acknowledge"],
}


def site(verify: bool) -> AlertSettings:
    """Staff told by webhook, a wait for an acknowledgement, then the principal by email (the escalation)."""
    protocol: dict[str, Any] = {"steps": [
        {"notify": {"to": ["group:staff"], "via": ["hook"]}},
        {"wait_ack": {"timeout_s": WAIT_S}},
        {"notify": {"to": ["principal"], "via": ["email"]}},
    ]}
    if verify:
        protocol["verify"] = {"to": ["guard"], "via": ["email"], "timeout_s": 30}
    return AlertSettings.model_validate({
        "channels": {"hook": {"url": "http://127.0.0.1:9/hook", "secret": "wait-ack-test-signing-key"},
                     "email": {"url": "smtp://127.0.0.1:9"}},
        "recipients": {"guard": {"addresses": {"email": "guard@school.example"}},
                       "principal": {"addresses": {"email": "principal@school.example"}}},
        "groups": {"staff": ["guard"]},
        "protocols": {"lockdown": protocol},
    })


@pytest.fixture
def event(store: EventStore, make_event: Callable[..., ThreatEvent]) -> ThreatEvent:
    opened = make_event()
    store.save_event(opened)
    return opened


def answer(actions: EventActions, event: ThreatEvent, said: list[str]) -> None:
    for action in said:
        getattr(actions, action)(event.id, "guard", None)


def outcome(store: EventStore, outbox: Outbox, event: ThreatEvent) -> tuple[list[str], list[str]]:
    """The kinds of the event's queued deliveries and its protocol actions in the audit log."""
    kinds = [delivery.kind for delivery in outbox.of_event(event.id)]
    protocol_actions = [entry.action for entry in AuditLog(store).of_event(event.id)
                        if entry.action.startswith("protocol.")]
    return kinds, protocol_actions


@pytest.mark.parametrize("case", list(ANSWERS))
def test_an_acknowledgement_followed_by_a_confirm_still_ends_the_wait(
        store: EventStore, event: ThreatEvent, case: str) -> None:
    outbox = Outbox(store)
    engine, actions = ProtocolEngine(site(verify=False), store, outbox), EventActions(store, outbox)
    started = time.time()
    engine.on_event(event, now=started)
    answer(actions, event, ANSWERS[case])

    engine.tick(now=started + WAIT_S + 1)  # past the wait's deadline

    kinds, history = outcome(store, outbox, event)
    assert kinds == ["alert"]  # the staff's alert; no escalation to the principal
    assert "protocol.acknowledged" in history and "protocol.escalating" not in history
    assert history[-1] == "protocol.acknowledged"


@pytest.mark.parametrize("case", list(ANSWERS))
def test_answered_during_verification_the_run_ends_at_its_wait(
        store: EventStore, event: ThreatEvent, case: str) -> None:
    """Acknowledged and confirmed while the verifier still had the pre-alert: the protocol goes on (the
    confirm), alerts the staff, and ends at the wait_ack step without waiting (the acknowledgement)."""
    outbox = Outbox(store)
    engine, actions = ProtocolEngine(site(verify=True), store, outbox), EventActions(store, outbox)
    started = time.time()
    engine.on_event(event, now=started)
    answer(actions, event, ANSWERS[case])

    engine.tick(now=started + 1)  # the answers are seen: verified, and acknowledged
    engine.tick(now=started + WAIT_S + 30)  # long past any deadline

    kinds, history = outcome(store, outbox, event)
    assert kinds == ["pre_alert", "alert"]
    assert "protocol.verified" in history and history[-1] == "protocol.acknowledged"
    assert "protocol.escalating" not in history


def test_a_confirm_alone_does_not_stop_the_escalation(store: EventStore, event: ThreatEvent) -> None:
    """The control: without an acknowledgement the same deadline escalates, so the tests above can fail."""
    outbox = Outbox(store)
    engine, actions = ProtocolEngine(site(verify=False), store, outbox), EventActions(store, outbox)
    started = time.time()
    engine.on_event(event, now=started)
    answer(actions, event, ["confirm"])

    engine.tick(now=started + WAIT_S + 1)

    kinds, history = outcome(store, outbox, event)
    assert kinds == ["alert", "escalation"]
    assert "protocol.escalating" in history and history[-1] == "protocol.done"
