"""ChannelService: each channel's health from the deliveries the real outbox wrote and settled."""

from __future__ import annotations

import time
from collections.abc import Callable

import pytest

from gunwatch.alerts.outbox import Outbox
from gunwatch.events.model import ThreatEvent
from gunwatch.service.channels import ChannelService
from gunwatch.users.principal import AccessDenied, Principal
from service.conftest import VIEWER, claim, message_delivery


def test_a_channel_that_is_down_shows_its_error_and_how_long_alerts_wait(
        outbox: Outbox, save_event: Callable[..., ThreatEvent]) -> None:
    first, second = save_event("lobby"), save_event("hall")
    outbox.enqueue([message_delivery(first.id, "email", "alice"), message_delivery(first.id, "webhook", "vms")])
    outbox.delivered(claim(outbox, "email"), 0.1)
    outbox.delivered(claim(outbox, "webhook"), 0.1)
    # Then the mail server goes away: one alert is given up, the next waits for a retry.
    outbox.enqueue([message_delivery(second.id, "email", "alice"), message_delivery(second.id, "email", "bob")])
    outbox.failed(claim(outbox, "email"), "550 mailbox unavailable")
    outbox.retry(claim(outbox, "email"), "connection refused", retry_at=time.time() + 60)
    waiting = [d for d in outbox.of_event(second.id) if d.status == "pending"]
    now = time.time() + 30

    health = {h.channel: h for h in ChannelService(outbox.store, configured=["email", "mqtt"]).list(VIEWER, now=now)}
    assert sorted(health) == ["email", "mqtt", "webhook"]
    email = health["email"]
    assert (email.state, email.delivered, email.failed, email.pending) == ("failing", 1, 1, 1)
    assert email.last_error == "connection refused" and email.last_error_at is not None
    assert email.last_delivered_at is not None and email.last_error_at > email.last_delivered_at
    assert email.oldest_pending_age_s == pytest.approx(now - waiting[0].created_at)
    webhook = health["webhook"]
    assert (webhook.state, webhook.delivered, webhook.pending, webhook.last_error) == ("ok", 1, 0, None)
    assert webhook.oldest_pending_age_s is None
    mqtt = health["mqtt"]
    assert (mqtt.state, mqtt.delivered, mqtt.last_delivered_at) == ("idle", 0, None)


def test_a_channel_that_recovered_is_ok_and_old_deliveries_leave_the_window(
        outbox: Outbox, save_event: Callable[..., ThreatEvent]) -> None:
    event = save_event("lobby")
    outbox.enqueue([message_delivery(event.id, "email", "alice")])
    outbox.retry(claim(outbox, "email"), "timed out", retry_at=time.time())
    outbox.delivered(claim(outbox, "email"), 0.2)
    service = ChannelService(outbox.store)
    (email,) = service.list(VIEWER)
    assert (email.state, email.delivered, email.last_error) == ("ok", 1, None)
    (later,) = service.list(VIEWER, window_s=60, now=time.time() + 3600)
    assert (later.state, later.delivered, later.last_delivered_at) == ("idle", 0, email.last_delivered_at)


def test_channel_health_needs_events_read(outbox: Outbox) -> None:
    with pytest.raises(AccessDenied, match="may not events read"):
        ChannelService(outbox.store).list(Principal("x", "viewer", frozenset({"cameras:read"})))
