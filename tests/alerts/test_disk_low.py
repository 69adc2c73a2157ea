"""`on: disk_low`: the evidence disk below its floor starts a protocol, as a camera going offline does; threat
protocols do not hear it, and a second report within the cooldown merges into the first run."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from gunwatch.alerts.service import AlertService
from gunwatch.config.alerts import AlertSettings
from gunwatch.events.store import EventStore
from support.waiting import wait_until

REASON = "1.2 GB free on the evidence disk of runs/evidence, below its floor of 5.00 GB"


def settings(sink: Path) -> AlertSettings:
    notify = {"notify": {"to": ["desk"], "via": ["log"]}}
    return AlertSettings.model_validate({
        "site_name": "Test School",
        "channels": {"log": {"url": sink.as_uri()}},
        "recipients": {"desk": {"name": "Front desk"}},
        "protocols": {"disk": {"trigger": {"on": "disk_low"}, "cooldown_s": 3600, "steps": [notify]},
                      "threat": {"trigger": {"on": "threat"}, "steps": [notify]},
                      "offline": {"trigger": {"on": "camera_offline"}, "steps": [notify]}},
    })


@pytest.mark.parametrize("store_url", ["sqlite"], indirect=True)
def test_disk_low_starts_its_protocol_only(store: EventStore, tmp_path: Path,
                                           runs: Callable[..., list[Any]]) -> None:
    sink = tmp_path / "alerts.jsonl"
    service = AlertService(settings(sink), store, poll_s=0.05).start()
    try:
        service.submit_disk_low(REASON)
        service.submit_disk_low(REASON)  # the next pass of a disk still low: merged, no second message
        assert wait_until(lambda: len(runs()) == 2 and sink.exists() and sink.read_text().strip(), timeout=120)
    finally:
        service.close()
    assert [(run.protocol, run.trigger, run.state) for run in runs()] == [("disk", "disk_low", "done"),
                                                                            ("disk", "disk_low", "merged")]
    [message] = [json.loads(line) for line in sink.read_text().splitlines()]
    assert message["kind"] == "disk_low" and message["camera"] is None
    assert message["title"] == "[Test School] DISK LOW: the evidence disk is nearly full"
    assert REASON in message["body"] and message["event_id"].startswith("disk-")
