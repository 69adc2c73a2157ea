"""A call step in the outbox carries no credential: its secret and headers are read from the site file."""

from __future__ import annotations

import json

import pytest

from gunwatch.alerts.channels.base import DeliveryError
from gunwatch.alerts.outbox.executor import DeliveryExecutor
from gunwatch.alerts.protocols.steps import RunRef, step_deliveries
from gunwatch.config.alerts import AlertSettings

SECRET, TOKEN = "door-hmac-key-123", "Bearer s3cret-token"


def settings() -> AlertSettings:
    call = {"url": "http://doors.local/lock/{camera}", "secret": SECRET, "headers": {"Authorization": TOKEN},
            "cancel": {"url": "http://doors.local/unlock", "headers": {"Authorization": TOKEN + "-undo"}}}
    return AlertSettings.model_validate({"protocols": {"lockdown": {"steps": [{"call": call}]}}})


def test_the_stored_call_names_its_step_instead_of_holding_its_credentials() -> None:
    site = settings()
    run = RunRef(7, "evt-1", "lockdown", {"camera": "lobby", "event_id": "evt-1"})
    [delivery], _ = step_deliveries(site, run, 0, site.protocols["lockdown"].steps[0], "alert", 0.0)
    stored = json.dumps(delivery.payload)
    assert SECRET not in stored and "s3cret" not in stored
    assert delivery.payload["url"] == "http://doors.local/lock/lobby"
    executor = DeliveryExecutor({}, site)
    assert executor._call_credentials(delivery.payload["credentials"]) == (SECRET, {"Authorization": TOKEN})
    undo = delivery.payload["cancel"]["credentials"]
    assert executor._call_credentials(undo) == (None, {"Authorization": TOKEN + "-undo"})


def test_a_call_whose_step_left_the_site_file_fails_without_retrying() -> None:
    executor = DeliveryExecutor({}, settings())
    with pytest.raises(DeliveryError) as failed:
        executor._call_credentials({"protocol": "lockdown", "step": 3, "undo": False})
    assert not failed.value.retryable and "no call step 3 in protocol 'lockdown'" in failed.value.reason
