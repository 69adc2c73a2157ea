"""With links set up, a message to one person carries a signed link to the event's picture beside the action
links; a broadcast (a webhook to a group) carries neither, and a pressed link names the one person it was sent
to, never the group. Real SMTP and HTTP receivers on loopback, the real link endpoint."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from fastapi.testclient import TestClient

from gunwatch.alerts.audit import AuditLog
from gunwatch.alerts.event_actions import EventActions
from gunwatch.alerts.links import read_token
from gunwatch.alerts.service import AlertService
from gunwatch.events.model import ThreatEvent
from gunwatch.events.store import EventStore
from gunwatch.web.app import create_app
from support.http_receiver import HttpReceiver
from support.smtp_server import SmtpServer
from support.waiting import wait_until

SECRET = "a-link-secret-of-32-characters!!"
BASE = "https://gunwatch.school.example"
ADDRESSES = {"alice": "alice@school.example", "bob": "bob@school.example"}
SNAPSHOT_LINE = re.compile(r"^Snapshot: (\S+)$", re.MULTILINE)


def test_per_person_messages_carry_a_snapshot_link_and_a_group_webhook_carries_no_link(
    store: EventStore, start_service: Callable[..., AlertService], event_with_snapshot: Callable[..., ThreatEvent],
    channel: Callable[..., dict[str, Any]], smtp_server: SmtpServer, http_receiver: HttpReceiver,
) -> None:
    settings = {
        "site_name": "Test School",
        "channels": {"email": channel(smtp_server.url), "hook": channel(http_receiver.url())},
        "recipients": {name: {"name": name.title(), "addresses": {"email": address}}
                       for name, address in ADDRESSES.items()},
        "groups": {"office": list(ADDRESSES)},
        "links": {"base_url": BASE, "secret": SECRET},
        "protocols": {"lockdown": {"steps": [{"notify": {"to": ["group:office"], "via": ["email", "hook"]}}]}},
    }
    service = start_service(settings)
    event = event_with_snapshot()
    store.save_event(event)
    service.submit_event(event)
    mails = smtp_server.wait_for(2)
    [request] = http_receiver.wait_for(1)
    assert wait_until(lambda: {d.status for d in service.outbox.of_event(event.id)} == {"delivered"})

    # Each email: the person's own snapshot link, checked as their action links are.
    snapshot_urls = {}
    for mail in mails:
        [to] = mail.rcpt_tos
        person = next(name for name, address in ADDRESSES.items() if address == to)
        text = mail.message.get_body(("plain",)).get_content()
        [url] = SNAPSHOT_LINE.findall(text)
        assert url.startswith(f"{BASE}/act/") and url.endswith("/snapshot")
        claim = read_token(SECRET, url.removeprefix(f"{BASE}/act/").removesuffix("/snapshot"))
        assert (claim.event_id, claim.recipient, claim.kind) == (event.id, person, "alert")
        snapshot_urls[person] = url
    assert set(snapshot_urls) == {"alice", "bob"}

    # The webhook to the group: one message naming both, with no link of any kind.
    payload = request.json
    assert payload["recipient"] == "Alice, Bob"
    assert payload["links"] == {} and payload["snapshot_url"] is None and b"/act/" not in request.body

    # The link endpoint serves the picture to the snapshot link, and a pressed link names its one person.
    client = TestClient(create_app(store, EventActions(store), SECRET))
    picture = client.get(snapshot_urls["bob"].removeprefix(BASE))
    assert picture.status_code == 200 and picture.headers["content-type"] == "image/jpeg"
    assert picture.content[:2] == b"\xff\xd8"
    bob_mail = next(m for m in mails if m.rcpt_tos == (ADDRESSES["bob"],))
    bob_text = bob_mail.message.get_body(("plain",)).get_content()
    [ack] = re.findall(r"^ack: (\S+)$", bob_text, re.MULTILINE)
    assert client.post(ack.removeprefix(BASE)).status_code == 200
    actors = [entry.actor for entry in AuditLog(store).of_event(event.id) if entry.action == "event.acknowledged"]
    assert actors == ["link:bob"]

    # Bob's false alarm: the group's webhook hears it named as the alert named them, and who pressed it.
    [false_alarm] = re.findall(r"^false_alarm: (\S+)$", bob_text, re.MULTILINE)
    assert client.post(false_alarm.removeprefix(BASE)).status_code == 200
    service.dispatcher.wake()
    cancel = http_receiver.wait_for(2)[1].json
    assert (cancel["kind"], cancel["recipient"]) == ("cancel", "Alice, Bob")
    assert "Marked by link:bob." in cancel["body"]


def test_no_snapshot_link_without_a_snapshot_or_without_links(
    store: EventStore, start_service: Callable[..., AlertService], make_event: Callable[..., ThreatEvent],
    event_with_snapshot: Callable[..., ThreatEvent], channel: Callable[..., dict[str, Any]], smtp_server: SmtpServer,
) -> None:
    recipients = {"alice": {"addresses": {"email": ADDRESSES["alice"]}}}
    steps = [{"notify": {"to": ["alice"], "via": ["email"]}}]
    with_links = start_service({"channels": {"email": channel(smtp_server.url)}, "recipients": recipients,
                                "links": {"base_url": BASE, "secret": SECRET},
                                "protocols": {"lockdown": {"steps": steps}}})
    bare = make_event(camera="gate")  # its picture is not written yet: the alert says it follows
    store.save_event(bare)
    with_links.submit_event(bare)
    [first] = smtp_server.wait_for(1)
    first_text = first.message.get_body(("plain",)).get_content()
    assert "/act/" in first_text and not SNAPSHOT_LINE.search(first_text)
    with_links.close(drain_s=0.5)

    without = start_service({"channels": {"email": channel(smtp_server.url)}, "recipients": recipients,
                             "protocols": {"lockdown": {"steps": steps}}})
    pictured = event_with_snapshot(camera="hall")
    store.save_event(pictured)
    without.submit_event(pictured)
    second = smtp_server.wait_for(2)[1]
    second_text = second.message.get_body(("plain",)).get_content()
    assert "/act/" not in second_text and not SNAPSHOT_LINE.search(second_text)
