"""A cancel goes only where the alert may have arrived: not to an address the mail server refused, nor to a
webhook that could not be reached; still to one that timed out (it may have taken the alert), against real
receivers on loopback."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from gunwatch.alerts.outbox import Delivery
from gunwatch.alerts.service import AlertService
from gunwatch.events.model import ThreatEvent
from gunwatch.events.store import EventStore
from support.http_receiver import HttpReceiver
from support.smtp_server import SmtpServer

WAIT_S = 30.0
GIVE_UP_QUICKLY = {"initial_s": 0.05, "max_s": 0.1, "max_attempts": 2}


def test_no_cancel_where_the_alert_certainly_never_arrived(
    store: EventStore, start_service: Callable[..., AlertService], make_event: Callable[..., ThreatEvent],
    channel: Callable[..., dict[str, Any]], smtp_server: SmtpServer, http_receiver: HttpReceiver,
    more_receivers: Callable[[], HttpReceiver], wait_for_deliveries: Callable[..., list[Delivery]],
    refused_port: int,
) -> None:
    hanging = more_receivers()
    hanging.set_mode("hang")
    addresses = {"alice": "alice@school.example", "bob": "bob-reject@school.example"}  # bob's: 550 refused
    settings = {
        "channels": {"email": channel(smtp_server.url, retry=GIVE_UP_QUICKLY),
                     "up": channel(http_receiver.url(), retry=GIVE_UP_QUICKLY),
                     "down": channel(f"http://127.0.0.1:{refused_port}/hook", retry=GIVE_UP_QUICKLY),
                     "slow": channel(hanging.url(), retry=GIVE_UP_QUICKLY, timeout_s=0.5)},
        "recipients": {name: {"addresses": {"email": address}} for name, address in addresses.items()},
        "groups": {"staff": list(addresses)},
        "protocols": {"lockdown": {"steps": [
            {"notify": {"to": ["group:staff"], "via": ["email", "up", "down", "slow"]}},
            {"wait_ack": {"timeout_s": 600}}]}},
    }
    service = start_service(settings)
    event = make_event()
    store.save_event(event)
    service.submit_event(event)
    settled = wait_for_deliveries(service, event.id, lambda d: d.status in ("delivered", "failed"), count=5,
                                  timeout=WAIT_S)
    outcome = {(d.channel, d.recipient if d.channel == "email" else "-"): d.status for d in settled}
    assert outcome == {("email", "alice"): "delivered", ("email", "bob"): "failed", ("up", "-"): "delivered",
                       ("down", "-"): "failed", ("slow", "-"): "failed"}
    hanging.release()

    result = service.actions.false_alarm(event.id, "guard:carol")

    e = event.id
    assert sorted(result.withdrawals) == sorted([
        f"{e}:cancel:email:alice:alice@school.example",  # delivered
        f"{e}:cancel:up:alice,bob:-",  # delivered
        f"{e}:cancel:slow:alice,bob:-",  # timed out: it may have taken the alert
    ])  # none to bob's refused address, none to the webhook nothing listens on
    service.dispatcher.wake()
    [cancel] = wait_for_deliveries(service, event.id, lambda d: d.kind == "cancel" and d.channel == "email"
                                   and d.status == "delivered", timeout=WAIT_S)
    assert cancel.recipient == "alice"
    cancels = [m for m in smtp_server.mails if m.message["X-Gunwatch-Kind"] == "cancel"]
    assert [m.rcpt_tos for m in cancels] == [("alice@school.example",)]
