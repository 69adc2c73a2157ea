"""What a step leaves in the outbox: no credential, no URL, no command, no signed link; only references."""

from __future__ import annotations

import json

from gunwatch.alerts.protocols.actions import step_digest
from gunwatch.alerts.protocols.steps import RunRef, resolve_action, step_deliveries
from gunwatch.alerts.protocols.steps.call import Call
from gunwatch.config.alerts import AlertSettings

SECRET, TOKEN = "door-hmac-key-123", "Bearer s3cret-token"
LINK_SECRET = "a-link-secret-of-32-characters!!"


def settings() -> AlertSettings:
    call = {"url": "http://doors.local/lock/{camera}", "secret": SECRET, "headers": {"Authorization": TOKEN},
            "cancel": {"url": "http://doors.local/unlock", "headers": {"Authorization": TOKEN + "-undo"}}}
    return AlertSettings.model_validate({
        "channels": {"mail": {"url": "smtp://127.0.0.1:9"},
                     "hook": {"url": "http://ops.local/hook", "secret": "hook-signing-key"}},
        "recipients": {"alice": {"addresses": {"mail": "alice@school.example"}}},
        "links": {"base_url": "http://127.0.0.1:8780", "secret": LINK_SECRET},
        "protocols": {"lockdown": {"steps": [
            {"call": call},
            {"run": {"command": ["espeak-ng", "Lockdown {camera}"], "cancel_command": ["espeak-ng", "Stand down"]}},
            {"notify": {"to": ["alice"], "via": ["mail", "hook"]}},
        ]}},
    })


RUN = RunRef(7, "evt-1", "lockdown", {"camera": "lobby", "zone": "door", "score": 0.9, "event_id": "evt-1",
                                      "site": "gunwatch", "protocol": "lockdown"})


def test_a_call_is_stored_as_a_reference_and_rebuilt_with_its_credentials() -> None:
    site = settings()
    [delivery], _ = step_deliveries(site, RUN, 0, site.protocols["lockdown"].steps[0], "alert", 0.0)
    stored = json.dumps(delivery.payload)
    for secret in (SECRET, "s3cret", "doors.local", "http"):
        assert secret not in stored
    assert delivery.payload == {
        "step": {"protocol": "lockdown", "index": 0, "digest": step_digest(site.protocols["lockdown"].steps[0])},
        "context": {"camera": "lobby", "zone": "door", "score": 0.9, "event_id": "evt-1"},
        "undo": False, "has_undo": True,
    }
    call = resolve_action(site, "call", delivery.payload)
    assert call == Call("http://doors.local/lock/lobby", "POST", None, {"Authorization": TOKEN}, SECRET, 10.0)


def test_a_command_is_stored_without_its_argv() -> None:
    site = settings()
    [delivery], _ = step_deliveries(site, RUN, 1, site.protocols["lockdown"].steps[1], "alert", 0.0)
    assert "espeak" not in json.dumps(delivery.payload) and delivery.payload["has_undo"]
    assert (delivery.action, delivery.lane) == ("command", "@commands")


def test_messages_are_stored_without_links_even_for_one_person() -> None:
    site = settings()
    deliveries, missing = step_deliveries(site, RUN, 2, site.protocols["lockdown"].steps[2], "alert", 0.0)
    assert missing == [] and {d.channel for d in deliveries} == {"mail", "hook"}
    for delivery in deliveries:
        assert delivery.payload["links"] == {}
        assert "/act/" not in json.dumps(delivery.payload)
