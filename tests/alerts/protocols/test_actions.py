"""A stored action is rebuilt from the site file, and refused when it does not match it."""

from __future__ import annotations

from typing import Any

import pytest

from gunwatch.alerts.protocols.actions import StepMismatch, step_digest, undo_payload
from gunwatch.alerts.protocols.steps import RunRef, resolve_action, step_deliveries
from gunwatch.alerts.protocols.steps.call import Call
from gunwatch.alerts.protocols.steps.publish import Publish
from gunwatch.alerts.protocols.steps.run import Command
from gunwatch.config.alerts import AlertSettings

LOCK = {"call": {"url": "https://doors.local/lock/{camera}", "headers": {"Authorization": "Bearer t0ken"},
                 "body": {"event": "{event_id}", "score": "{score}"},
                 "cancel": {"url": "https://doors.local/unlock/{camera}"}}}
SIREN = {"publish": {"channel": "mqtt", "topic": "site/{site}/siren", "payload": {"camera": "{camera}"},
                     "cancel_payload": "OFF", "retain": True}}
SPEAK = {"run": {"command": ["espeak-ng", "Lockdown at {zone}"], "timeout_s": 5}}
CONTEXT = {"camera": "lobby", "zone": "door", "score": 0.812, "event_id": "0123abcd", "site": "ignored"}


def site(*steps: dict[str, Any], **extra: Any) -> AlertSettings:
    return AlertSettings.model_validate({
        "site_name": "School", "channels": {"mqtt": {"url": "mqtt://127.0.0.1:1883"}},
        "protocols": {"lockdown": {"steps": list(steps)}}, **extra})


def stored(settings: AlertSettings, index: int) -> dict[str, Any]:
    """What the outbox stores when a run reaches step `index`."""
    run = RunRef(7, "0123abcd", "lockdown", CONTEXT)
    [delivery], _ = step_deliveries(settings, run, index, settings.protocols["lockdown"].steps[index], "alert", 0.0)
    return delivery.payload


def test_each_kind_is_rebuilt_from_the_site_file_with_its_placeholders() -> None:
    settings = site(LOCK, SIREN, SPEAK)
    assert resolve_action(settings, "call", stored(settings, 0)) == Call(
        "https://doors.local/lock/lobby", "POST", {"event": "0123abcd", "score": "0.81"},
        {"Authorization": "Bearer t0ken"}, None, 10.0)
    assert resolve_action(settings, "publish", stored(settings, 1)) == Publish(
        "mqtt", "site/School/siren", {"camera": "lobby"}, True)  # {site} from the site file, not the row
    variables = {"camera": "lobby", "zone": "door", "score": "0.81", "event_id": "0123abcd", "site": "School"}
    assert resolve_action(settings, "command", stored(settings, 2)) == Command(
        ["espeak-ng", "Lockdown at {zone}"], 5.0, variables, [])  # run_command fills it in


def test_undo_is_the_steps_cancel() -> None:
    settings = site(LOCK, SIREN, SPEAK)
    undo = undo_payload(stored(settings, 0))
    assert undo is not None
    assert resolve_action(settings, "call", undo) == Call("https://doors.local/unlock/lobby", "POST", None, {}, None,
                                                          10.0)
    assert resolve_action(settings, "publish", undo_payload(stored(settings, 1)) or {}).payload == "OFF"
    assert undo_payload(stored(settings, 2)) is None  # no cancel_command: nothing to undo
    assert undo_payload(undo) is None  # an undo has no undo


def test_a_step_that_moved_is_found_by_its_digest() -> None:
    before = site(LOCK, SPEAK)
    queued = stored(before, 0)
    after = site(SPEAK, {"wait_ack": {"timeout_s": 30}}, LOCK)  # the lock is step 2 now
    assert resolve_action(after, "call", queued).url == "https://doors.local/lock/lobby"
    assert resolve_action(after, "command", stored(before, 1)).text_vars["zone"] == "door"


def test_rotating_a_secret_or_token_is_the_same_step() -> None:
    rotated = {"call": {**LOCK["call"], "headers": {"Authorization": "Bearer n3w"}}}
    assert step_digest(site(LOCK).protocols["lockdown"].steps[0]) == step_digest(
        site(rotated).protocols["lockdown"].steps[0])
    assert resolve_action(site(rotated), "call", stored(site(LOCK), 0)).headers == {"Authorization": "Bearer n3w"}


@pytest.mark.parametrize(("after", "why"), [
    ([{"call": {**LOCK["call"], "url": "https://elsewhere.example/lock"}}], "not in the site file as it was"),
    ([SPEAK], "not in the site file as it was"),
    ([{"call": {**LOCK["call"], "headers": {"X-Other": "1"}}}], "not in the site file as it was"),
])
def test_a_changed_or_removed_step_is_refused(after: list[dict[str, Any]], why: str) -> None:
    with pytest.raises(StepMismatch, match=why):
        resolve_action(site(*after), "call", stored(site(LOCK), 0))


def test_a_removed_protocol_is_refused() -> None:
    settings = AlertSettings.model_validate({"protocols": {"other": {"steps": [LOCK]}}})
    with pytest.raises(StepMismatch, match="no protocol 'lockdown'"):
        resolve_action(settings, "call", stored(site(LOCK), 0))


def tampered(payload: dict[str, Any], **changes: Any) -> dict[str, Any]:
    return {**payload, **changes}


@pytest.mark.parametrize(("action", "change", "why"), [
    # What an older gunwatch stored, or anyone writing to the database: a command, a URL of their own.
    ("command", {"command": ["sh", "-c", "id"]}, "not a step reference"),
    ("call", {"url": "https://attacker.example/"}, "not a step reference"),
    ("call", {"step": {"protocol": "lockdown", "index": 0}}, "not a step reference"),
    ("call", {"context": {**{k: CONTEXT[k] for k in ("zone", "score", "event_id")}, "camera": "x;id"}},
     "camera 'x;id' is not one gunwatch writes"),
    ("call", {"context": {"camera": "lobby", "zone": "../../x", "score": 1.0, "event_id": "e"}}, "zone"),
    ("call", {"context": {"camera": "lobby", "zone": None, "score": "1; id", "event_id": "e"}}, "score"),
    ("command", {}, "is not a run step"),
    ("message", {}, "not a protocol action"),
])
def test_a_row_not_written_by_gunwatch_is_refused(action: str, change: dict[str, Any], why: str) -> None:
    settings = site(LOCK)
    with pytest.raises(StepMismatch, match=why):
        resolve_action(settings, action, tampered(stored(settings, 0), **change))


# Digests as gunwatch computed them before step kinds had modules of their own: rows queued then must still
# find their steps after an upgrade.
DIGESTS_BEFORE = [
    ({"call": {"url": "https://doors.local/lock/{camera}", "headers": {"Authorization": "Bearer t0ken", "X-A": "b"},
               "secret": "abcdefgh", "body": {"event": "{event_id}", "score": "{score}"}, "method": "PUT",
               "timeout_s": 5, "cancel": {"url": "https://doors.local/unlock/{camera}", "secret": "zz",
                                          "headers": {"K": "v"}}}},
     "9e2b729a86b6ea4eea4dc8af8dc0fabaf4f2857c18fd94a43cb5ff15c9bdd78b"),
    ({"publish": {"channel": "mqtt", "topic": "site/{site}/siren", "payload": {"camera": "{camera}"},
                  "cancel_payload": "OFF", "retain": True}},
     "93ccfc334412a18c77def24eaa1e9c8409b09a3c824dbab4c9c2e44a9dfe5ba3"),
    ({"run": {"command": ["espeak-ng", "Lockdown at {zone}"], "timeout_s": 5, "env": ["PULSE_SERVER"],
              "cancel_command": ["x"]}},
     "a4d580c3ae596da52c42e7a52856bb1957950a49c8c866806b0f86a336876611"),
    ({"wait_ack": {"timeout_s": 30}}, "f7fddc2129fe5650eb53d9cf4dcea80239c70cb6422da2e894fa00eeaaf868b2"),
]


@pytest.mark.parametrize(("step", "digest"), DIGESTS_BEFORE)
def test_a_steps_digest_is_what_earlier_versions_stored(step: dict[str, Any], digest: str) -> None:
    assert step_digest(site(step).protocols["lockdown"].steps[0]) == digest
