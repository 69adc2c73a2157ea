"""`gunwatch event false-alarm --config FILE` where the site file lacks a channel's secret: the false alarm is
recorded and its cancels stay queued for the running watch; the command says why it cannot send them."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from typer.testing import CliRunner

from gunwatch.alerts.message import AlertMessage
from gunwatch.alerts.outbox import NewDelivery, Outbox
from gunwatch.cli import app
from gunwatch.events.model import ThreatEvent
from gunwatch.events.store import EventStore


@pytest.mark.parametrize("store_url", ["sqlite"], indirect=True)
def test_a_false_alarm_is_recorded_when_its_cancels_cannot_be_sent_from_here(
        store: EventStore, store_url: str, make_event: Callable[..., ThreatEvent], tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    event = make_event()
    store.save_event(event)
    outbox = Outbox(store)
    key = f"{event.id}:lockdown:0:alert:mail:alice"
    message = AlertMessage(key=key, kind="alert", title="GUN DETECTED: lobby", body="...", event_id=event.id)
    outbox.enqueue([NewDelivery(key, "alert", "message", "mail", message.to_json(), event.id, channel="mail",
                                recipient="alice", address="alice@school.example")])
    claimed = outbox.claim("mail", 60)
    assert claimed is not None
    outbox.delivered(claimed, 0.1)
    monkeypatch.delenv("GW_SMTP_PASSWORD", raising=False)
    site = tmp_path / "site.yaml"
    site.write_text(f"cameras:\n  lobby: {{url: rtsp://cam/lobby}}\nstore:\n  url: '{store_url}'\n"
                    "alerts:\n  channels:\n    mail: {url: 'smtp://gw:${GW_SMTP_PASSWORD}@relay:587'}\n")

    result = CliRunner().invoke(app, ["event", "false-alarm", event.id[:8], "--config", str(site), "--by", "dana"])

    assert result.exit_code == 1, result.output
    assert f"event {event.id}: false alarm" in result.stderr
    assert "alerts.channels.mail.url: environment variable GW_SMTP_PASSWORD is not set" in result.stderr
    assert "1 cancel(s) queued; the running gunwatch watch delivers them" in result.stderr
    assert store.dispositions([event.id]) == {event.id: "false_alarm"}
    [cancel] = [d for d in outbox.of_event(event.id) if d.kind == "cancel"]
    assert (cancel.status, cancel.recipient) == ("pending", "alice")
