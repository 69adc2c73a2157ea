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


def alerts(channels: dict[str, Any], first: str, then: str, via: str = "desk", **links: Any) -> AlertSettings:
    """Tell `first` on `via`, wait for an acknowledgement (briefly), then tell `then`."""
    steps = [{"notify": {"to": [first], "via": [via]}}, {"wait_ack": {"timeout_s": 1}},
             {"notify": {"to": [then], "via": [via]}}]
    return AlertSettings.model_validate({
        "channels": channels, "links": links,
        "recipients": {name: {"name": name.title()} for name in ("alice", "bob", "carol")},
        "protocols": {"gun_seen": {"trigger": {"on": "threat"}, "steps": steps}}})


def test_a_changed_protocol_and_a_new_channel_apply_to_the_next_event_only(
    store: EventStore, start_service: Callable[..., AlertService], event_with_snapshot: Callable[..., ThreatEvent],
    channel: Callable[..., dict[str, Any]], wait_for_deliveries: Callable[..., list[Delivery]], tmp_path: Path,
) -> None:
    desk = {"desk": channel((tmp_path / "desk.jsonl").as_uri())}
    service = start_service(alerts(desk, "alice", "bob"))
    before = event_with_snapshot()
    store.save_event(before)
    service.submit_event(before)
    wait_for_deliveries(service, before.id, lambda d: d.recipient == "alice")

    pager = tmp_path / "pager.jsonl"
    service.update(alerts({**desk, "pager": channel(pager.as_uri())}, "carol", "carol", via="pager"), "site.yaml")
    after = event_with_snapshot(camera="dock")  # another camera: not merged into the first alert (cool-down)
    store.save_event(after)
    service.submit_event(after)

    sent = wait_for_deliveries(service, after.id, lambda d: d.status == "delivered", count=2)
    assert [(d.recipient, d.channel) for d in sent] == [("carol", "pager")] * 2
    assert len(pager.read_text().splitlines()) == 2
    # The run under way escalated by its own protocol: to bob, never to carol.
    wait_for_deliveries(service, before.id, lambda d: d.recipient == "bob")
    assert sorted((d.recipient, d.channel) for d in service.outbox.of_event(before.id)) == [("alice", "desk"),
                                                                                           ("bob", "desk")]


def test_changed_links_are_refused_naming_the_key(
    store: EventStore, start_service: Callable[..., AlertService], channel: Callable[..., dict[str, Any]],
    tmp_path: Path,
) -> None:
    desk = {"desk": channel((tmp_path / "desk.jsonl").as_uri())}
    service = start_service(alerts(desk, "alice", "bob"))
    with pytest.raises(ConfigError) as refused:
        service.update(alerts(desk, "alice", "bob", listen="127.0.0.1:8799"), "site.yaml")
    assert [(p.file, p.key) for p in refused.value.problems] == [("site.yaml", "alerts.links")]
    assert "restart" in str(refused.value)
