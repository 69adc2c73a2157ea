"""Action links: tokens of one kind each, and where links go (one person's own channel, and nowhere else).

The delivery test runs a protocol through the AlertService to real receivers: an SMTP server, a webhook
receiver, a mosquitto broker and a file sink. Only the email may carry links; the broadcast payloads, the
file and its page, and the store never do.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from gunwatch.alerts.links import LinkError, make_token, message_links, read_token
from gunwatch.alerts.service import AlertService
from gunwatch.config.alerts import LinkSettings
from gunwatch.events.model import ThreatEvent
from gunwatch.events.store import EventStore
from gunwatch.events.store.schema import AuditRow, DeliveryRow
from support.http_receiver import HttpReceiver
from support.mosquitto import MosquittoBroker, MqttCollector
from support.smtp_server import SmtpServer
from support.waiting import wait_until

SECRET = "a-link-secret-of-32-characters!!"
BASE = "http://127.0.0.1:8780"


# --- tokens --------------------------------------------------------------------------------------------

def token(action: str = "ack", kind: str = "alert", expires_in: float = 60.0) -> str:
    now = time.time()
    return make_token(SECRET, "evt-1", action, kind, "alice", now, now + expires_in)


def resigned(good: str, secret: str, kind: str, **changes: Any) -> str:
    """`good` with its claims changed, signed under `kind`'s key of `secret`: a forgery that knows the scheme."""
    from gunwatch.alerts.links import _b64, _signature, _unb64

    claims = json.loads(_unb64(good.partition(".")[0])) | changes
    body = _b64(json.dumps(claims, separators=(",", ":")).encode())
    return f"{body}.{_signature(secret, kind, body).decode()}"


def test_a_token_says_its_event_action_kind_and_recipient() -> None:
    claim = read_token(SECRET, token("false_alarm", "pre_alert"))
    assert (claim.event_id, claim.action, claim.kind, claim.recipient) == ("evt-1", "false_alarm", "pre_alert", "alice")
    assert len(claim.token_id) == 24 and claim.issued_at <= time.time() < claim.expires_at
    assert read_token(SECRET, token()).token_id != read_token(SECRET, token()).token_id


def test_each_kind_offers_only_its_own_actions() -> None:
    with pytest.raises(ValueError, match="pre_alert offers confirm, false_alarm, not 'resolve'"):
        token("resolve", "pre_alert")
    with pytest.raises(ValueError, match="carry no links"):
        token("ack", "cancel")


def test_a_token_cannot_be_moved_to_another_kind_or_action() -> None:
    good = token("false_alarm", "pre_alert")
    signature = good.partition(".")[2]
    as_alert = resigned(good, "wrong", "alert", k="alert").partition(".")[0]
    # The last two are signed with the real secret: even then a kind carries only its own actions.
    forgeries = {
        "another kind, same signature": f"{as_alert}.{signature}",
        "resolve under the pre-alert's key": resigned(good, SECRET, "pre_alert", a="resolve"),
        "alert claims under the pre-alert's key": resigned(good, SECRET, "pre_alert", k="alert", a="resolve"),
    }
    for name, forged in forgeries.items():
        with pytest.raises(LinkError, match=r"signature does not match|not a gunwatch link"):
            read_token(SECRET, forged)
            pytest.fail(f"accepted: {name}")


@pytest.mark.parametrize("signature", ["é" * 43, "sig\u00e9", "ß", "sig\udcff"])
def test_a_non_ascii_signature_is_an_invalid_link_not_a_crash(signature: str) -> None:
    body = token().partition(".")[0]
    with pytest.raises(LinkError, match="not a gunwatch link"):
        read_token(SECRET, f"{body}.{signature}")


def test_expired_and_overlong_tokens_are_refused() -> None:
    with pytest.raises(LinkError, match="expired"):
        read_token(SECRET, token(expires_in=-1))
    with pytest.raises(LinkError, match="not a gunwatch link"):
        read_token(SECRET, token() + "A" * 2000)


def test_lifetimes_are_per_kind_and_short_by_default() -> None:
    defaults = LinkSettings().expire_s
    assert (defaults.pre_alert, defaults.alert, defaults.escalation) == (600.0, 7200.0, 7200.0)
    settings = LinkSettings(base_url=BASE, secret=SECRET)
    now = time.time()
    for kind, offered, lifetime in [("pre_alert", {"confirm", "false_alarm"}, 600),
                                    ("alert", {"ack", "false_alarm", "resolve"}, 7200),
                                    ("escalation", {"ack", "false_alarm", "resolve"}, 7200)]:
        links = message_links(settings, kind, "evt-1", "alice", now)
        assert set(links) == offered
        for action, url in links.items():
            claim = read_token(SECRET, url.removeprefix(f"{BASE}/act/"), now)
            assert (claim.action, claim.kind) == (action, kind)
            assert claim.expires_at == int(now + lifetime)  # whole seconds
    assert message_links(settings, "cancel", "evt-1", "alice", now) == {}
    assert message_links(settings, "camera_offline", "evt-1", "alice", now) == {}


# --- where links go ------------------------------------------------------------------------------------

ACT = re.compile(r"/act/[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+")


def test_links_reach_only_one_persons_own_channel(
    store: EventStore, start_service: Callable[..., AlertService], make_event: Callable[..., ThreatEvent],
    channel: Callable[..., dict[str, Any]], name: Callable[[str], str], smtp_server: SmtpServer,
    http_receiver: HttpReceiver, mosquitto_broker: MosquittoBroker, tmp_path: Path,
) -> None:
    prefix, sink = name("gwlinks"), tmp_path / "alerts.jsonl"
    settings = {
        "site_name": "Test School",
        "channels": {"email": channel(smtp_server.url), "hook": channel(http_receiver.url(), secret="hook-key-123"),
                     "mqtt": channel(mosquitto_broker.url, topic_prefix=prefix), "log": channel(sink.as_uri())},
        "recipients": {"alice": {"addresses": {"email": "alice@school.example"}}},
        "links": {"base_url": BASE, "secret": SECRET},
        "protocols": {"lockdown": {"steps": [{"notify": {"to": ["alice"], "via": ["email", "hook", "mqtt", "log"]}}]}},
    }
    with MqttCollector(mosquitto_broker, f"{prefix}/#") as broker:
        service = start_service(settings)
        event = make_event()
        store.save_event(event)
        service.submit_event(event)
        [mail] = smtp_server.wait_for(1)
        [request] = http_receiver.wait_for(1)
        published = broker.wait_for(2)
        assert wait_until(lambda: {d.status for d in service.outbox.of_event(event.id)} == {"delivered"})

    # The email: alice's own links, each valid for her and this event.
    text = mail.message.get_body(("plain",)).get_content()
    urls = [f"{BASE}{path}" for path in ACT.findall(text)]
    assert len(urls) == 3
    claims = [read_token(SECRET, url.rpartition("/")[2]) for url in urls]
    assert {(c.event_id, c.recipient) for c in claims} == {(event.id, "alice")}
    assert {c.action for c in claims} == {"ack", "false_alarm", "resolve"}

    # Everywhere else: no link, in any form.
    broadcast = {"webhook": request.body, **{f"mqtt {m.topic}": m.payload for m in published},
                 "file": sink.read_bytes(), "page": sink.with_suffix(".html").read_bytes()}
    for where, data in broadcast.items():
        assert b"/act/" not in data, where
    with store.read_session() as session:
        stored = [json.dumps(row.payload) for row in session.scalars(select(DeliveryRow))]
        stored += [json.dumps(row.detail) for row in session.scalars(select(AuditRow))]
    assert stored and not any("/act/" in text for text in stored)
    signatures = [url.rpartition(".")[2] for url in urls]
    assert not any(signature in text for text in stored for signature in signatures)
