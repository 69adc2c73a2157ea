"""The alerts section reloaded while alerts run (`AlertService.update`, from `gunwatch reload`): a changed
protocol applies to events handed over afterwards; a run under way goes on by the protocol it started with.
Real AlertService, store and file channel; what must not arrive is checked once what does has arrived."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from gunwatch.alerts.outbox import Delivery
from gunwatch.alerts.service import AlertService
from gunwatch.config import ConfigError
from gunwatch.config.alerts import AlertSettings
from gunwatch.events.model import ThreatEvent
from gunwatch.events.store import EventStore

pytestmark = pytest.mark.parametrize("store_url", ["sqlite"], indirect=True)


def alerts(desk: dict[str, Any], first: str, then: str) -> AlertSettings:
    """Tell `first` on the desk, wait for an acknowledgement (briefly), then tell `then`."""
    steps = [{"notify": {"to": [first], "via": ["desk"]}}, {"wait_ack": {"timeout_s": 1}},
             {"notify": {"to": [then], "via": ["desk"]}}]
    return AlertSettings.model_validate({
        "channels": {"desk": desk},
        "recipients": {name: {"name": name.title()} for name in ("alice", "bob", "carol")},
        "protocols": {"gun_seen": {"trigger": {"on": "threat"}, "steps": steps}}})


def test_a_changed_protocol_applies_to_the_next_event_only(
    store: EventStore, start_service: Callable[..., AlertService], event_with_snapshot: Callable[..., ThreatEvent],
    channel: Callable[..., dict[str, Any]], wait_for_deliveries: Callable[..., list[Delivery]], tmp_path: Path,
) -> None:
    desk = channel((tmp_path / "desk.jsonl").as_uri())
    service = start_service(alerts(desk, "alice", "bob"))
    before = event_with_snapshot()
    store.save_event(before)
    service.submit_event(before)
    wait_for_deliveries(service, before.id, lambda d: d.recipient == "alice")

    service.update(alerts(desk, "carol", "carol"), "site.yaml")
    after = event_with_snapshot(camera="dock")  # another camera: not merged into the first alert (cool-down)
    store.save_event(after)
    service.submit_event(after)

    assert [d.recipient for d in wait_for_deliveries(service, after.id, lambda d: True, count=2)] == ["carol"] * 2
    # The run under way escalated by its own protocol: to bob, never to carol.
    wait_for_deliveries(service, before.id, lambda d: d.recipient == "bob")
    assert sorted(d.recipient for d in service.outbox.of_event(before.id)) == ["alice", "bob"]


def test_changed_channels_are_refused_naming_the_key(
    store: EventStore, start_service: Callable[..., AlertService], channel: Callable[..., dict[str, Any]],
    tmp_path: Path,
) -> None:
    service = start_service(alerts(channel((tmp_path / "desk.jsonl").as_uri()), "alice", "bob"))
    with pytest.raises(ConfigError) as refused:
        service.update(alerts(channel((tmp_path / "other.jsonl").as_uri()), "alice", "bob"), "site.yaml")
    assert [(p.file, p.key) for p in refused.value.problems] == [("site.yaml", "alerts.channels")]
    assert "restart" in str(refused.value)
