"""The link endpoint, served for real (uvicorn on loopback) against a real SQLite store."""

from __future__ import annotations

import socket
import ssl
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from PIL import Image
from pydantic import ValidationError

from gunwatch.alerts.audit import AuditLog
from gunwatch.alerts.event_actions import ActionResult, EventActions
from gunwatch.alerts.link_checks import LinkRevocations
from gunwatch.alerts.links import make_token, read_token
from gunwatch.alerts.message import AlertMessage
from gunwatch.alerts.outbox import NewDelivery, Outbox
from gunwatch.alerts.protocols.engine import ProtocolEngine
from gunwatch.config.alerts import AlertSettings, LinkSettings, LinkTls
from gunwatch.events.model import Evidence, ThreatEvent
from gunwatch.events.store import EventStore
from gunwatch.web.app import create_app
from gunwatch.web.pages import outcome_text
from gunwatch.web.server import LinkServer, LinkServerError, parse_listen
from support.smtp_server import self_signed_tls

SECRET = "a-link-secret-of-32-characters!!"


@dataclass
class Site:
    store: EventStore
    actions: EventActions
    event: ThreatEvent
    server: LinkServer
    client: httpx.Client
    results: list[ActionResult]

    def url(self, action: str, recipient: str | None = "alice", *, secret: str = SECRET,
            expires_in: float = 3600.0, event_id: str | None = None, kind: str | None = None) -> str:
        token = link_token(action, recipient, secret=secret, expires_in=expires_in, event_id=event_id or self.event.id,
                           kind=kind)
        return f"/act/{token}"

    def event_audit(self) -> list[str]:
        return [f"{e.action} {e.actor}" for e in AuditLog(self.store).of_event(self.event.id)
                if e.action.startswith("event.")]


def link_token(action: str, recipient: str | None = "alice", *, event_id: str, secret: str = SECRET,
               expires_in: float = 3600.0, kind: str | None = None) -> str:
    """A token as an alert carries it (a pre-alert's for confirm, unless `kind` says otherwise)."""
    now = time.time()
    kind = kind or ("pre_alert" if action == "confirm" else "alert")
    return make_token(secret, event_id, action, kind, recipient, now, now + expires_in)


@pytest.fixture
def site(tmp_path: Path) -> Iterator[Site]:
    snapshot = tmp_path / "snapshot.jpg"
    Image.new("RGB", (64, 48), (200, 30, 30)).save(snapshot, "JPEG")
    now = time.time()
    event = ThreatEvent(camera="lobby <east>", state="open", first_seen=now - 2, confirmed_at=now - 1, last_seen=now,
                        max_score=0.91, best_box=(1.0, 2.0, 30.0, 40.0), zone="entrance",
                        evidence=Evidence(snapshot=str(snapshot)))
    with EventStore(f"sqlite:///{tmp_path / 'store.db'}") as store:
        store.save_event(event)
        actions = EventActions(store)
        results: list[ActionResult] = []
        app = create_app(store, actions, SECRET, on_action=results.append)
        with LinkServer(app, "127.0.0.1", 0) as server, httpx.Client(base_url=server.url, timeout=5.0) as client:
            yield Site(store, actions, event, server, client, results)


def test_healthz(site: Site) -> None:
    response = site.client.get("/healthz")
    assert response.status_code == 200 and response.json() == {"ok": True}


def test_healthz_says_what_the_watchdog_says_and_nothing_of_what_is_stuck(tmp_path: Path) -> None:
    """503 once the pipeline is stuck, for a liveness probe to restart the process; 200 again when it moves. The
    body is yes or no: camera and lane names stay in the log."""
    alive = [True]
    with EventStore(f"sqlite:///{tmp_path / 'store.db'}") as store:
        app = create_app(store, EventActions(store), SECRET, alive=lambda: alive[0])
        with LinkServer(app, "127.0.0.1", 0) as server, httpx.Client(base_url=server.url, timeout=5.0) as client:
            assert client.get("/healthz").status_code == 200
            alive[0] = False
            response = client.get("/healthz")
            assert response.status_code == 503 and response.json() == {"ok": False}
            alive[0] = True
            assert client.get("/healthz").json() == {"ok": True}


def test_get_shows_the_event_and_one_button_and_changes_nothing(site: Site) -> None:
    for action, label in [("ack", "Acknowledge"), ("false_alarm", "False alarm: cancel the alert")]:
        for _ in range(2):  # a scanner, then a link preview
            response = site.client.get(site.url(action))
            assert response.status_code == 200
            page = response.text
            assert response.headers["content-type"].startswith("text/html")
            assert page.count("<form") == 1 and 'method="post"' in page and f">{label}</button>" in page
            assert "lobby &lt;east&gt;" in page and "<east>" not in page  # escaped
            assert "entrance" in page and "0.91" in page and "/snapshot" in page
            assert "http://" not in page and "https://" not in page  # nothing loaded from elsewhere
    assert response.headers["cache-control"] == "no-store"
    assert response.headers["referrer-policy"] == "no-referrer"
    assert site.event_audit() == []
    assert site.results == []


def test_post_acknowledges_as_the_link_recipient(site: Site) -> None:
    response = site.client.post(site.url("ack", "alice"), data={"note": "on my way"})
    assert response.status_code == 200 and "Acknowledged" in response.text
    entries = AuditLog(site.store).of_event(site.event.id)
    acknowledged = [e for e in entries if e.action == "event.acknowledged"]
    assert [e.actor for e in acknowledged] == ["link:alice"]
    assert acknowledged[0].detail["note"] == "on my way"
    assert [r.disposition for r in site.results] == ["acknowledged"]
    # The page now shows who acknowledged; not their note, which is no message to other link holders.
    page = site.client.get(site.url("resolve", "bob")).text
    assert "acknowledged" in page and "link:alice" in page and "on my way" not in page


def test_post_without_recipient_is_unknown(site: Site) -> None:
    assert site.client.post(site.url("confirm", None)).status_code == 200
    assert site.event_audit() == ["event.confirmed link:unknown"]


def test_false_alarm_cancels_and_a_second_post_says_already_marked(site: Site) -> None:
    _delivered_alert(site.store, site.event.id, "alice")
    response = site.client.post(site.url("false_alarm", "alice"))
    assert response.status_code == 200
    assert "Marked false alarm; cancels sent to 1 recipient." in response.text
    assert len(site.results) == 1 and site.results[0].disposition == "false_alarm" and site.results[0].changed
    assert len(site.results[0].withdrawals) == 1
    assert "event.false_alarm link:alice" in site.event_audit()

    again = site.client.post(site.url("false_alarm", "bob"))
    assert again.status_code == 200 and "already marked false alarm" in again.text.lower()
    assert [r.changed for r in site.results] == [True, False]


def test_resolve_after_false_alarm_is_refused(site: Site) -> None:
    assert site.client.post(site.url("false_alarm")).status_code == 200
    # The page says the link no longer applies and offers no button...
    page = site.client.get(site.url("resolve")).text
    assert "<form" not in page and "no longer applies" in page
    # ... and a POST anyway is refused.
    response = site.client.post(site.url("resolve"))
    assert response.status_code == 409 and "already false alarm" in response.text
    assert [r.disposition for r in site.results] == ["false_alarm"]


@pytest.mark.parametrize("method", ["GET", "POST"])
def test_bad_tokens_are_forbidden(site: Site, method: str) -> None:
    good = site.url("ack")
    body, _, signature = good.removeprefix("/act/").partition(".")
    tampered_body = body[:-2] + ("AA" if body[-2:] != "AA" else "BB")
    cases = {
        "expired": (site.url("ack", expires_in=-10), "expired"),
        "other secret": (site.url("ack", secret="another-secret-of-32-characters!"), "signature"),
        "tampered": (f"/act/{tampered_body}.{signature}", "signature"),
        "garbage": ("/act/not-a-token", "not a gunwatch link"),
    }
    for name, (url, why) in cases.items():
        response = site.client.request(method, url)
        assert response.status_code == 403, name
        assert why in response.text, name
    assert site.client.get(site.url("ack", expires_in=-10) + "/snapshot").status_code == 403
    assert site.event_audit() == [] and site.results == []


@pytest.mark.parametrize("method", ["GET", "POST"])
def test_a_non_ascii_token_is_an_invalid_link_not_a_server_error(site: Site, method: str) -> None:
    body = site.url("ack").removeprefix("/act/").partition(".")[0]
    for token in (f"{body}.\u00e9\u00e9\u00e9", f"{body}.sig\u00df", "\u00e9t\u00e9.sig"):
        response = site.client.request(method, f"/act/{token}")
        assert response.status_code == 403, token
        assert "not a gunwatch link" in response.text
        assert site.client.get(f"/act/{token}/snapshot").status_code == 403
    assert site.event_audit() == [] and site.results == []


def test_a_revoked_link_stops_working_and_the_others_do_not(site: Site) -> None:
    revoked, kept = site.url("false_alarm", "alice"), site.url("ack", "bob")
    token_id = read_token(SECRET, revoked.removeprefix("/act/")).token_id
    LinkRevocations(site.store).revoke(site.event.id, "cli:dana", [token_id], "forwarded to a group chat")
    for response in (site.client.get(revoked), site.client.post(revoked), site.client.get(revoked + "/snapshot")):
        assert response.status_code == 403 and "revoked by cli:dana" in response.text
    assert site.client.post(kept).status_code == 200
    assert site.event_audit() == ["event.acknowledged link:bob"] and len(site.results) == 1


def test_revoking_an_events_links_kills_those_issued_so_far_only(site: Site) -> None:
    before = [site.url("false_alarm", "alice"), site.url("resolve", "bob")]
    LinkRevocations(site.store).revoke(site.event.id, "cli:dana")
    for url in before:
        assert site.client.get(url).status_code == 403
        assert site.client.post(url).status_code == 403
    assert site.results == []
    later = site.url("ack", "carol")  # an escalation sent after the revocation
    assert site.client.post(later).status_code == 200
    assert site.event_audit() == ["event.acknowledged link:carol"]


def test_a_pre_alert_link_dies_once_the_event_is_confirmed(site: Site) -> None:
    """A verifier's false-alarm link must not call off a lockdown someone else confirmed meanwhile."""
    false_alarm = site.url("false_alarm", "verifier", kind="pre_alert")
    assert site.client.get(false_alarm).status_code == 200  # still verifying: it works
    site.actions.confirm(site.event.id, "cli:dana")
    for response in (site.client.get(false_alarm), site.client.post(false_alarm)):
        assert response.status_code == 403 and "no longer apply" in response.text
    assert site.event_audit() == ["event.confirmed cli:dana"]
    refused = [e for e in AuditLog(site.store).of_event(site.event.id) if e.action == "link.refused"]
    assert [(e.actor, e.detail["link_action"], e.detail["link_kind"]) for e in refused] == [
        ("link:verifier", "false_alarm", "pre_alert")]
    assert site.results == []
    # The alert's own link still calls it off.
    assert site.client.post(site.url("false_alarm", "alice")).status_code == 200


def test_a_pre_alert_link_dies_once_the_protocol_went_on_without_an_answer(site: Site) -> None:
    settings = AlertSettings.model_validate({
        "channels": {"email": {"url": "smtp://127.0.0.1:9"}},
        "recipients": {"verifier": {"addresses": {"email": "v@school.example"}},
                       "alice": {"addresses": {"email": "a@school.example"}}},
        "protocols": {"lockdown": {"verify": {"to": ["verifier"], "via": ["email"], "timeout_s": 30},
                                   "steps": [{"notify": {"to": ["alice"], "via": ["email"]}}]}},
    })
    engine = ProtocolEngine(settings, site.store, Outbox(site.store))
    engine.on_event(site.event)
    false_alarm = site.url("false_alarm", "verifier", kind="pre_alert")
    assert site.client.get(false_alarm).status_code == 200
    assert engine.tick(now=time.time() + 60) == 1  # verification timed out: the alert went out (fail-safe)
    response = site.client.post(false_alarm)
    assert response.status_code == 403 and "the verification is over" in response.text
    assert site.results == []
    assert site.client.post(site.url("false_alarm", "alice")).status_code == 200


def test_unknown_event_is_not_found(site: Site) -> None:
    url = site.url("ack", event_id="no-such-event")
    assert site.client.get(url).status_code == 404
    assert site.client.post(url).status_code == 404
    assert site.client.get(url + "/snapshot").status_code == 404
    assert site.results == []


def test_snapshot_is_the_tokens_event_jpeg(site: Site, tmp_path: Path) -> None:
    response = site.client.get(site.url("ack") + "/snapshot")
    assert response.status_code == 200 and response.headers["content-type"] == "image/jpeg"
    assert response.content == Path(site.event.evidence.snapshot or "").read_bytes()

    bare = ThreatEvent(camera="gym", state="open", first_seen=1.0, confirmed_at=2.0, last_seen=3.0, max_score=0.8,
                       best_box=(0.0, 0.0, 1.0, 1.0))
    site.store.save_event(bare)
    url = site.url("ack", event_id=bare.id)
    assert site.client.get(url + "/snapshot").status_code == 404
    assert "/snapshot" not in site.client.get(url).text


def test_snapshot_is_the_annotated_picture_the_messages_carry(site: Site, tmp_path: Path) -> None:
    annotated = tmp_path / "snapshot_annotated.jpg"
    Image.new("RGB", (64, 48), (30, 30, 200)).save(annotated, "JPEG")
    both = ThreatEvent(camera="gym", state="open", first_seen=1.0, confirmed_at=2.0, last_seen=3.0, max_score=0.8,
                       best_box=(0.0, 0.0, 1.0, 1.0),
                       evidence=Evidence(snapshot=site.event.evidence.snapshot, annotated=str(annotated)))
    site.store.save_event(both)
    response = site.client.get(site.url("ack", event_id=both.id) + "/snapshot")
    assert response.status_code == 200 and response.content == annotated.read_bytes()


def test_on_action_failure_does_not_undo_the_action(tmp_path: Path) -> None:
    with EventStore(f"sqlite:///{tmp_path / 'store.db'}") as store:
        event = ThreatEvent(camera="gym", state="open", first_seen=1.0, confirmed_at=2.0, last_seen=3.0,
                            max_score=0.8, best_box=(0.0, 0.0, 1.0, 1.0))
        store.save_event(event)

        def broken(_: ActionResult) -> None:
            raise RuntimeError("dispatcher gone")

        app = create_app(store, EventActions(store), SECRET, on_action=broken)
        with LinkServer(app, "127.0.0.1", 0) as server:
            token = link_token("ack", "carol", event_id=event.id, expires_in=60)
            response = httpx.post(f"{server.url}/act/{token}", timeout=5.0)
        assert response.status_code == 200 and "Acknowledged" in response.text
        assert any(e.action == "event.acknowledged" for e in AuditLog(store).of_event(event.id))


def test_outcome_counts_the_withdrawals() -> None:
    four = ActionResult("e", "false_alarm", True, ["a", "b", "c", "d"], 1)
    assert outcome_text(four) == "Marked false alarm; cancels sent to 4 recipients."
    assert outcome_text(ActionResult("e", "resolved", True, ["a"], 0)) == "Resolved; all-clears sent to 1 recipient."
    assert "already marked" in outcome_text(ActionResult("e", "acknowledged", False, [], 0)).lower()


# --- the server and its settings ---------------------------------------------------------------------------

def test_a_taken_port_is_a_clear_error(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with EventStore(f"sqlite:///{tmp_path / 'store.db'}") as store:
            app = create_app(store, EventActions(store), SECRET)
            with pytest.raises(LinkServerError, match=f"cannot listen on 127.0.0.1:{port}"):
                LinkServer(app, "127.0.0.1", port).start()


def test_stop_frees_the_port(tmp_path: Path) -> None:
    with EventStore(f"sqlite:///{tmp_path / 'store.db'}") as store:
        app = create_app(store, EventActions(store), SECRET)
        server = LinkServer(app, "127.0.0.1", 0).start()
        port = server.port
        assert httpx.get(f"{server.url}/healthz", timeout=5.0).json() == {"ok": True}
        server.stop()
        again = LinkServer(app, "127.0.0.1", port).start()  # the same port, at once
        again.stop()


def test_tls_serves_https_only(tmp_path: Path) -> None:
    files = self_signed_tls(tmp_path)
    tls = LinkTls(cert=files.cert, key=files.key)
    with EventStore(f"sqlite:///{tmp_path / 'store.db'}") as store:
        app = create_app(store, EventActions(store), SECRET)
        trusted = ssl.create_default_context(cafile=str(files.cert))
        with LinkServer(app, "127.0.0.1", 0, tls=tls) as server:
            assert server.url.startswith("https://127.0.0.1:")
            assert httpx.get(f"{server.url}/healthz", verify=trusted, timeout=5.0).json() == {"ok": True}
            with pytest.raises(httpx.HTTPError):  # a token sent in clear gets no answer
                httpx.get(server.url.replace("https://", "http://") + "/healthz", timeout=5.0)


@pytest.mark.parametrize(("listen", "expected"), [
    ("127.0.0.1:8780", ("127.0.0.1", 8780)),
    ("0.0.0.0:1", ("0.0.0.0", 1)),
    ("gunwatch.local:65535", ("gunwatch.local", 65535)),
    ("[::1]:8780", ("::1", 8780)),
])
def test_parse_listen(listen: str, expected: tuple[str, int]) -> None:
    assert parse_listen(listen) == expected
    assert LinkSettings(listen=listen).listen == listen


@pytest.mark.parametrize("listen", ["8780", "127.0.0.1", ":8780", "127.0.0.1:0", "127.0.0.1:65536",
                                    "127.0.0.1:http", "127.0.0.1:-1", "::1:8780", "my host:8780", ""])
def test_bad_listen_is_refused(listen: str) -> None:
    with pytest.raises(ValueError):
        parse_listen(listen)
    with pytest.raises(ValidationError, match="listen"):
        LinkSettings(listen=listen)


def test_listen_default() -> None:
    assert LinkSettings().listen == "127.0.0.1:8780"


def _delivered_alert(store: EventStore, event_id: str, recipient: str) -> None:
    """An alert that reached `recipient` by mail, as the outbox leaves it."""
    outbox = Outbox(store)
    key = f"{event_id}:alert:mail:{recipient}"
    message = AlertMessage(key=key, kind="alert", title="GUN DETECTED: lobby", body="A gun at the lobby.",
                           camera="lobby", event_id=event_id, recipient=recipient, created_at=time.time())
    outbox.enqueue([NewDelivery(key, "alert", "message", "mail", message.to_json(), event_id, channel="mail",
                                recipient=recipient, address=f"{recipient}@example.org")])
    delivery = outbox.claim("mail", lease_s=30.0)
    assert delivery is not None
    outbox.delivered(delivery, 0.1)

