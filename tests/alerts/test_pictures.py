"""An alert that went out without its snapshot (a slow evidence disk): it says so, and the picture follows.

Through a real AlertService to a real SMTP server, and the outbox rows themselves (on both store backends).
"""

from __future__ import annotations

import base64
import dataclasses
import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from gunwatch.alerts.outbox import Delivery, NewDelivery, Outbox
from gunwatch.alerts.pictures import attach_picture
from gunwatch.alerts.service import AlertService
from gunwatch.alerts.texts import NO_SNAPSHOT, make_message
from gunwatch.events.model import Evidence, ThreatEvent
from gunwatch.events.store import EventStore
from gunwatch.events.store.schema import ProtocolRunRow
from support.http_receiver import HttpReceiver
from support.smtp_server import SmtpServer
from support.waiting import wait_until

WAIT_S = 30.0
STAFF = {"alice": {"addresses": {"email": "alice@school.example"}},
         "carol": {"addresses": {"email": "carol@school.example"}}}


def alert_settings(smtp_url: str, channel: Callable[..., dict[str, Any]]) -> dict[str, Any]:
    return {"site_name": "School", "channels": {"email": channel(smtp_url)}, "recipients": STAFF,
            "protocols": {"lockdown": {"steps": [{"notify": {"to": ["alice"], "via": ["email"]}},
                                                 {"wait_ack": {"timeout_s": 3600}},
                                                 {"notify": {"to": ["carol"], "via": ["email"]}}]}}}


def kinds(smtp: SmtpServer) -> list[str]:
    return [str(mail.message["X-Gunwatch-Kind"]) for mail in smtp.mails]


def test_the_alert_goes_at_once_saying_the_snapshot_follows_and_it_follows_attached(
    store: EventStore, start_service: Callable[..., AlertService], make_event: Callable[..., ThreatEvent],
    snapshot: Path, annotated: Path, smtp_server: SmtpServer, channel: Callable[..., dict[str, Any]],
    runs: Callable[..., list[ProtocolRunRow]],
) -> None:
    service = start_service(alert_settings(smtp_server.url, channel))
    event = make_event()
    store.save_event(event)
    service.submit_event(event)  # as the evidence writer hands it on when the disk is slow: no snapshot
    [alert] = smtp_server.wait_for(1, timeout=WAIT_S)
    assert alert.message["X-Gunwatch-Kind"] == "alert"
    assert NO_SNAPSHOT in alert.message.get_body(("plain",)).get_content()
    assert not list(alert.message.iter_attachments())

    pictured = dataclasses.replace(event, evidence=Evidence(snapshot=str(snapshot), annotated=str(annotated)))
    service.submit_event(pictured)  # written at last
    assert wait_until(lambda: len(smtp_server.mails) >= 2, WAIT_S)
    follow = smtp_server.mails[1].message
    assert follow["X-Gunwatch-Kind"] == "snapshot" and follow["Subject"] == "[School] SNAPSHOT: gun on lobby (door)"
    assert smtp_server.mails[1].rcpt_tos == ("alice@school.example",)
    [picture] = follow.iter_attachments()
    assert picture.get_content() == annotated.read_bytes()  # the box that fired drawn
    assert NO_SNAPSHOT not in follow.get_body(("plain",)).get_content()
    # The run's later steps (the escalation to carol) carry the picture.
    assert wait_until(lambda: runs(event.id)[0].context.get("snapshot") == str(annotated), WAIT_S)

    service.submit_event(pictured)  # a repeat (a higher score's new snapshot) sends no second picture
    service.close()
    assert kinds(smtp_server) == ["alert", "snapshot"]


def test_every_channel_carries_the_annotated_picture_never_the_clean_one(
    start_service: Callable[..., AlertService], event_with_snapshot: Callable[..., ThreatEvent], snapshot: Path,
    annotated: Path, smtp_server: SmtpServer, http_receiver: HttpReceiver, channel: Callable[..., dict[str, Any]],
    store: EventStore, tmp_path: Path,
) -> None:
    sink = tmp_path / "messages" / "alerts.jsonl"
    channels = {"email": channel(smtp_server.url), "hook": channel(http_receiver.url("/hook")),
                "chat": channel(f"json://127.0.0.1:{http_receiver.port}/apprise"), "file": channel(sink.as_uri())}
    service = start_service({"site_name": "School", "channels": channels, "recipients": STAFF,
                             "protocols": {"lockdown": {"steps": [{"notify": {"to": ["alice"],
                                                                              "via": list(channels)}}]}}})
    event = event_with_snapshot()
    store.save_event(event)
    service.submit_event(event)
    assert wait_until(lambda: sum(d.status == "delivered" for d in service.outbox.of_event(event.id)) == 4, WAIT_S)

    picture, clean = annotated.read_bytes(), snapshot.read_bytes()
    assert picture != clean
    [mail] = smtp_server.mails
    assert [part.get_content() for part in mail.message.iter_attachments()] == [picture]
    [hook] = [request for request in http_receiver.requests if request.path == "/hook"]
    assert base64.b64decode(hook.json["snapshot_jpeg_base64"]) == picture
    [chat] = [request for request in http_receiver.requests if request.path == "/apprise"]
    assert [base64.b64decode(part["base64"]) for part in chat.json["attachments"]] == [picture]
    [line] = [json.loads(text) for text in sink.read_text().splitlines()]
    assert line["snapshot"] == str(annotated)
    assert 'src="../snapshot_annotated.jpg"' in sink.with_suffix(".html").read_text()  # the file sink's page


def message(event: ThreatEvent, key: str, recipient: str) -> NewDelivery:
    context = {"event_id": event.id, "camera": event.camera, "zone": event.zone, "score": event.max_score,
               "site": "School", "protocol": "lockdown"}
    body = make_message(key, "alert", context, time.time(), recipient=recipient)
    return NewDelivery(key, "alert", "message", "email", body.to_json(), event.id, None, 0, "email", recipient,
                       f"{recipient}@school.example")


def by_key(outbox: Outbox, event: ThreatEvent) -> dict[str, Delivery]:
    return {delivery.key: delivery for delivery in outbox.of_event(event.id)}


def test_the_picture_is_put_on_alerts_not_yet_sent_and_follows_those_sent_once_per_person(
    store: EventStore, make_event: Callable[..., ThreatEvent], snapshot: Path,
) -> None:
    outbox = Outbox(store)
    event = make_event()
    outbox.enqueue([message(event, f"{event.id}:sent:alice", "alice"), message(event, f"{event.id}:again:alice",
                                                                                 "alice"),
                    message(event, f"{event.id}:pending:bob", "bob")])
    for _ in range(2):  # both of alice's are sent (two steps to her), bob's waits
        claimed = outbox.claim("email", 60.0, keys=[f"{event.id}:sent:alice", f"{event.id}:again:alice"])
        assert claimed is not None
        outbox.delivered(claimed, 0.1)
    pictured = dataclasses.replace(event, evidence=Evidence(snapshot=str(snapshot)))

    result = attach_picture(outbox, pictured)

    rows = by_key(outbox, event)
    pending = rows[f"{event.id}:pending:bob"]
    assert result.attached == 1 and pending.payload["snapshot"] == str(snapshot)
    assert NO_SNAPSHOT not in pending.payload["body"] and "Handgun detected" in pending.payload["body"]
    assert result.follow_ups == [f"{event.id}:snapshot:email:alice:alice@school.example"]  # one, not two
    follow = rows[result.follow_ups[0]]
    assert (follow.kind, follow.status, follow.recipient, follow.address) == (
        "snapshot", "pending", "alice", "alice@school.example")
    assert follow.payload["snapshot"] == str(snapshot) and follow.payload["recipient"] == "alice"
    assert rows[f"{event.id}:sent:alice"].payload.get("snapshot") is None  # what was sent is left as sent

    again = attach_picture(outbox, pictured)  # nothing left without it
    assert (again.attached, again.follow_ups) == (0, []) and len(by_key(outbox, event)) == 4


def test_no_picture_follows_a_cancel(store: EventStore, make_event: Callable[..., ThreatEvent],
                                     snapshot: Path) -> None:
    outbox = Outbox(store)
    event = make_event()
    outbox.enqueue([message(event, f"{event.id}:alert:alice", "alice")])
    claimed = outbox.claim("email", 60.0)
    assert claimed is not None
    outbox.delivered(claimed, 0.1)
    cancel = message(event, f"{event.id}:cancel:alice", "alice")
    outbox.enqueue([dataclasses.replace(cancel, kind="cancel")])

    result = attach_picture(outbox, dataclasses.replace(event, evidence=Evidence(snapshot=str(snapshot))))

    assert (result.attached, result.follow_ups) == (0, []) and len(outbox.of_event(event.id)) == 2
