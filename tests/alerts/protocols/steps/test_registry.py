"""One module per kind of step, listed in one dict: every kind the site file takes is there, and each says
what its deliveries are called in the outbox and what undoes them."""

from __future__ import annotations

from typing import Any

import pytest

from gunwatch.alerts.outbox.deliveries import CALL_LANE, COMMAND_LANE, Delivery, NewDelivery
from gunwatch.alerts.protocols.steps import BY_ACTION, STEP_KINDS, RunRef, StepRun, kind_of, step_deliveries
from gunwatch.alerts.protocols.steps.base import ActionKind, Queued
from gunwatch.config.alerts import STEP_KINDS as SITE_FILE_KEYS
from gunwatch.config.alerts import AlertSettings

CONTEXT = {"camera": "lobby", "zone": "door", "score": 0.9, "event_id": "0123abcd", "site": "School",
           "protocol": "lockdown"}
RUN = RunRef(3, "0123abcd", "lockdown", CONTEXT)
STEPS: list[dict[str, Any]] = [
    {"notify": {"to": ["alice"], "via": ["mail", "hook"]}},
    {"call": {"url": "https://doors.local/lock", "cancel": {"url": "https://doors.local/unlock"}}},
    {"publish": {"channel": "siren", "topic": "site/siren", "cancel_payload": "OFF"}},
    {"run": {"command": ["espeak-ng", "Lockdown"]}},
    {"wait_ack": {"timeout_s": 30}},
]


def site() -> AlertSettings:
    return AlertSettings.model_validate({
        "channels": {"mail": {"url": "smtp://127.0.0.1:9"}, "hook": {"url": "http://ops.local/hook", "secret": "k"},
                     "siren": {"url": "mqtt://127.0.0.1:1883"}},
        "recipients": {"alice": {"addresses": {"mail": "alice@school.example"}}},
        "protocols": {"lockdown": {"steps": STEPS}}})


def attempted(new: NewDelivery) -> Delivery:
    """The row as the outbox reads it back once an attempt was made."""
    return Delivery(1, new.key, new.kind, new.action, new.lane, new.payload, new.event_id, new.run_id, new.step,
                    new.channel, new.recipient, new.address, "delivered", 1, 0.0, None, 0.0, 0.0, 0.0)


def test_every_key_a_step_may_have_is_a_kind_of_its_own() -> None:
    assert list(STEP_KINDS) == list(SITE_FILE_KEYS)
    assert all(kind.key == key for key, kind in STEP_KINDS.items())


def test_stored_action_names_lead_to_their_kind() -> None:
    # The names rows in the outbox carry: renaming one would strand the rows already queued.
    assert {action: kind.key for action, kind in BY_ACTION.items()} == {
        "message": "notify", "call": "call", "publish": "publish", "command": "run"}


@pytest.mark.parametrize(("index", "queued"), [
    (0, [("message", "mail", "0123abcd:lockdown:0:alert:mail:alice"),
         ("message", "hook", "0123abcd:lockdown:0:alert:hook:alice")]),
    (1, [("call", CALL_LANE, "0123abcd:lockdown:1:call")]),
    (2, [("publish", "siren", "0123abcd:lockdown:2:publish")]),
    (3, [("command", COMMAND_LANE, "0123abcd:lockdown:3:run")]),
    (4, []),
])
def test_each_kind_queues_its_deliveries(index: int, queued: list[tuple[str, str, str]]) -> None:
    settings = site()
    deliveries, missing = step_deliveries(settings, RUN, index, settings.protocols["lockdown"].steps[index], "alert",
                                          0.0)
    assert [(d.action, d.lane, d.key) for d in deliveries] == queued and missing == []
    assert all((d.run_id, d.step, d.event_id) == (3, index, "0123abcd") for d in deliveries)


@pytest.mark.parametrize(("index", "undone"), [
    (0, [("message", "mail", "0123abcd:cancel:mail:alice:alice@school.example"),
         ("message", "hook", "0123abcd:cancel:hook:alice:-")]),
    (1, [("call", CALL_LANE, "0123abcd:lockdown:1:call:cancel")]),
    (2, [("publish", "siren", "0123abcd:lockdown:2:publish:cancel")]),
    (3, []),  # no cancel_command: nothing to undo
])
def test_each_kind_says_what_undoes_it(index: int, undone: list[tuple[str, str, str]]) -> None:
    settings = site()
    deliveries, _ = step_deliveries(settings, RUN, index, settings.protocols["lockdown"].steps[index], "alert", 0.0)
    undos = [kind_of(settings.protocols["lockdown"].steps[index]).undo(attempted(d), "cancel", {"actor": "guard"}, 9.0)
             for d in deliveries]
    assert [(u.action, u.lane, u.key) for u in undos if u is not None] == undone
    for undo in undos:
        assert undo is None or (undo.kind, undo.run_id, undo.step) == ("cancel", 3, index)
        if undo is not None and undo.action != "message":
            assert undo.payload["undo"] is True and undo.payload["step"]["index"] == index


def test_only_a_step_that_waits_reads_the_acknowledgement() -> None:
    settings = site()

    def unread() -> None:
        raise AssertionError("a step that does not wait read the event's acknowledgement")

    for index, step in enumerate(settings.protocols["lockdown"].steps[:4]):
        outcome = kind_of(step).start(step.payload, StepRun(settings, RUN, index, "alert", 0.0, None, unread))
        assert isinstance(outcome, Queued)
        assert isinstance(kind_of(step), ActionKind) == (index in (1, 2, 3))
