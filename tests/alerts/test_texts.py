"""Message texts and payloads: every time says its zone (a reader may sit in another zone than the site)."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from datetime import datetime

import pytest

from gunwatch.alerts.channels.smtp import SmtpChannel
from gunwatch.alerts.channels.webhook import WebhookChannel
from gunwatch.alerts.message import MESSAGE_KINDS, AlertMessage
from gunwatch.alerts.texts import body, make_message
from gunwatch.config.channels import channel_config
from support.http_receiver import HttpReceiver, http_receiver_fixture  # noqa: F401 - `http_receiver`
from support.smtp_server import SmtpServer, smtp_server_fixture  # noqa: F401 - `smtp_server`


def _set_zone(monkeypatch: pytest.MonkeyPatch, zone: str) -> None:
    monkeypatch.setenv("TZ", zone)
    time.tzset()


@pytest.fixture
def berlin(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    _set_zone(monkeypatch, "Europe/Berlin")
    yield
    monkeypatch.undo()
    time.tzset()


def context(at: float) -> dict[str, object]:
    return {"camera": "lobby", "zone": "door", "score": 0.91, "first_seen": at - 0.4, "confirmed_at": at,
            "event_id": "evt-1", "snapshot": "/tmp/x.jpg"}


def test_times_in_text_carry_the_zone(berlin: None) -> None:
    winter = time.mktime((2026, 1, 15, 14, 3, 7, 0, 0, -1))
    summer = time.mktime((2026, 7, 15, 9, 30, 0, 0, 0, -1))
    assert "confirmed 14:03:07 CET" in body("alert", context(winter))
    assert "confirmed 09:30:00 CEST" in body("pre_alert", context(summer))


def test_a_zone_without_a_name_shows_its_offset(monkeypatch: pytest.MonkeyPatch) -> None:
    _set_zone(monkeypatch, "Asia/Dubai")  # tzdata names it "+04"
    try:
        at = time.mktime((2026, 1, 15, 14, 3, 7, 0, 0, -1))
        assert "confirmed 14:03:07 UTC+0400" in body("alert", context(at))
    finally:
        monkeypatch.undo()
        time.tzset()


@pytest.mark.parametrize("kind", ["pre_alert", "alert", "escalation", "snapshot"])
def test_every_kind_that_states_a_time_gives_its_zone(berlin: None, kind: str) -> None:
    at = time.mktime((2026, 1, 15, 14, 3, 7, 0, 0, -1))
    clocks = re.findall(r"\d\d:\d\d:\d\d(?: [A-Z]+)?", body(kind, context(at)))  # type: ignore[arg-type]
    assert clocks == ["14:03:06 CET", "14:03:07 CET"]
    assert kind in MESSAGE_KINDS


def test_json_times_are_iso_8601_with_an_offset(berlin: None) -> None:
    at = time.mktime((2026, 1, 15, 14, 3, 7, 0, 0, -1))
    message = make_message("evt-1:alert:x", "alert", context(at), created_at=at)
    data = message.to_json()
    for name in ("first_seen", "confirmed_at", "created_at"):
        parsed = datetime.fromisoformat(data[f"{name}_iso"])
        assert parsed.utcoffset() is not None and parsed.utcoffset().total_seconds() == 3600
        assert parsed.timestamp() == pytest.approx(data[name])
    assert data["confirmed_at_iso"].startswith("2026-01-15T14:03:07") and data["confirmed_at_iso"].endswith("+01:00")


def test_the_email_and_the_webhook_carry_the_zone(berlin: None, smtp_server: SmtpServer,
                                                  http_receiver: HttpReceiver) -> None:
    at = time.mktime((2026, 1, 15, 14, 3, 7, 0, 0, -1))
    message: AlertMessage = make_message("evt-1:alert:x", "alert", context(at), created_at=at)
    SmtpChannel("mail", channel_config(url=smtp_server.url)).send(message, "guard@school.example")  # type: ignore[arg-type]
    [mail] = smtp_server.wait_for(1)
    text = mail.message.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    assert "confirmed 14:03:07 CET" in text
    webhook = WebhookChannel("hook", channel_config(url=http_receiver.url(), signed=False))  # type: ignore[arg-type]
    webhook.send(message, None)
    [request] = http_receiver.wait_for(1)
    assert request.json["confirmed_at_iso"].endswith("+01:00")
    assert "14:03:07 CET" in request.json["body"]
