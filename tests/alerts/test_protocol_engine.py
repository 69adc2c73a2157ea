"""Protocols run by the AlertService against real receivers on loopback: an SMTP server, an HTTP receiver
(webhooks, apprise's json://, call steps), a mosquitto broker, and real local commands.

Each test checks what arrived where it arrived, the outbox rows and the audit log; on both store backends
where that is cheap.
"""

from __future__ import annotations

import base64
import dataclasses
import shutil
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from gunwatch.alerts.audit import AuditLog
from gunwatch.alerts.channels.webhook import verify_signature
from gunwatch.alerts.event_actions import EventActions
from gunwatch.alerts.outbox import Delivery, Outbox
from gunwatch.alerts.protocols.engine import LATE_ALERT_WITHIN_S, ProtocolEngine
from gunwatch.alerts.service import AlertService
from gunwatch.config.alerts import AlertSettings
from gunwatch.events.model import ThreatEvent
from gunwatch.events.store import EventStore
from gunwatch.video.health import HealthChange
from support.http_receiver import HttpReceiver
from support.mosquitto import MosquittoBroker, MqttCollector
from support.smtp_server import SmtpServer
from support.waiting import wait_until

SECRET = "hook-secret-for-tests"
SITE = "Test School"
STAFF = {
    "alice": {"addresses": {"email": "alice@school.example"}},
    "bob": {"addresses": {"email": "bob@school.example"}},
    "carol": {"name": "Carol (principal)", "addresses": {"email": "carol@school.example"}},
    "verifier": {"addresses": {"email": "verify@school.example"}},
}
GROUPS = {"staff": ["alice", "bob"]}
SQLITE_ONLY = pytest.mark.parametrize("store_url", ["sqlite"], indirect=True)

Waiter = Callable[..., list[Delivery]]
Service = Callable[..., AlertService]
Events = Callable[..., ThreatEvent]
Channels = Callable[..., dict[str, Any]]
Names = Callable[[str], str]
Runs = Callable[..., list[Any]]
Audit = Callable[[str], list[Any]]
Actions = Callable[[str], list[str]]


def site(protocols: dict[str, Any], **channels: dict[str, Any]) -> dict[str, Any]:
    """The site's alerts section: the staff, with their addresses on the channels given."""
    recipients = {name: person | {"addresses": {c: a for c, a in person["addresses"].items() if c in channels}}
                  for name, person in STAFF.items()}
    return {"site_name": SITE, "channels": channels, "recipients": recipients, "groups": GROUPS,
            "protocols": protocols}


def protocol(*steps: dict[str, Any], **fields: Any) -> dict[str, Any]:
    return {"steps": list(steps), **fields}


def notify(*via: str, to: tuple[str, ...] = ("group:staff",)) -> dict[str, Any]:
    return {"notify": {"to": list(to), "via": list(via)}}


def emails_to(smtp: SmtpServer, address: str, kind: str | None = None) -> list[Any]:
    return [mail.message for mail in smtp.mails
            if address in mail.rcpt_tos and (kind is None or mail.message["X-Gunwatch-Kind"] == kind)]


def key_of(email: Any) -> str:
    """An email's X-Gunwatch-Key. A long key is folded onto a continuation line (RFC 5322), which Python's
    parser returns with the fold's leading space: receivers compare it stripped."""
    return str(email["X-Gunwatch-Key"]).strip()


def hook_requests(receiver: HttpReceiver, path: str = "/hook", kind: str | None = None) -> list[Any]:
    return [r for r in receiver.requests
            if r.path == path and (kind is None or r.headers.get("x-gunwatch-kind") == kind)]


def submit(service: AlertService, store: EventStore, event: ThreatEvent) -> None:
    """As the pipeline does: the event is stored, then handed to the alerts."""
    store.save_event(event)
    service.submit_event(event)


# --- a protocol run end to end ---------------------------------------------------------------------------

def test_alert_reaches_every_channel_and_every_step_runs(
    store: EventStore, start_service: Service, event_with_snapshot: Events, annotated: Path, smtp_server: SmtpServer,
    http_receiver: HttpReceiver, mosquitto_broker: MosquittoBroker, wait_for_deliveries: Waiter,
    audit_actions: Actions, tmp_path: Path, channel: Channels, name: Names, runs: Runs,
) -> None:
    camera, prefix = name("lobby"), name("gwsite")
    flag = tmp_path / "ran-{camera}.flag"
    lockdown = protocol(
        notify("email", "hook", "mqtt", "chat"),
        {"call": {"url": http_receiver.url("/lock/{camera}"), "method": "PUT",
                  "body": {"camera": "{camera}", "zone": "{zone}", "event": "{event_id}", "score": "{score}"}}},
        {"publish": {"channel": "mqtt", "topic": f"{prefix}/siren/{{camera}}",
                     "payload": {"state": "ON", "camera": "{camera}"}}},
        {"run": {"command": ["touch", str(flag)], "timeout_s": 5}},
        trigger={"cameras": [camera]},
    )
    settings = site({"lockdown": lockdown},
                    email=channel(smtp_server.url), hook=channel(http_receiver.url("/hook"), secret=SECRET),
                    mqtt=channel(mosquitto_broker.url), chat=channel(f"json://127.0.0.1:{http_receiver.port}/apprise"))
    topics = ["gunwatch/events", f"gunwatch/{camera}/threat", f"{prefix}/siren/{camera}"]
    with MqttCollector(mosquitto_broker, topics) as seen:
        service = start_service(settings)
        event = event_with_snapshot(camera=camera)
        submit(service, store, event)

        deliveries = wait_for_deliveries(service, event.id, lambda d: d.status == "delivered", count=8)
        def ours() -> list[Any]:  # gunwatch/events is every test's topic: this event's messages only
            return [m for m in list(seen.messages) if m.topic != "gunwatch/events" or m.json()["event_id"] == event.id]

        assert wait_until(lambda: len(ours()) >= 3)
        published = ours()
    keys = {(d.action, d.channel, d.recipient): d.key for d in deliveries}
    assert len(set(keys.values())) == 8  # every delivery its own idempotency key
    assert {d.kind for d in deliveries} == {"alert"}

    # Email: one per recipient, at their address, with the snapshot attached (the annotated one: the box that
    # fired drawn) and the key in a header.
    for person in ("alice", "bob"):
        [email] = emails_to(smtp_server, f"{person}@school.example")
        assert key_of(email) == keys[("message", "email", person)]
        assert email["Subject"] == f"[{SITE}] GUN DETECTED: {camera} (door)"
        [attachment] = list(email.iter_attachments())
        assert attachment.get_content_type() == "image/jpeg"
        assert attachment.get_content() == annotated.read_bytes()
    assert len(smtp_server.mails) == 2

    # Webhook: signed, with the key, naming both recipients, the snapshot inline.
    [hook] = hook_requests(http_receiver, "/hook")
    assert verify_signature(SECRET, "POST", hook.path, hook.headers, hook.body)
    assert not verify_signature("another-secret", "POST", hook.path, hook.headers, hook.body)
    assert hook.headers["x-gunwatch-key"] == keys[("message", "hook", "alice,bob")] == hook.json["key"]
    assert (hook.json["kind"], hook.json["camera"], hook.json["event_id"]) == ("alert", camera, event.id)
    assert hook.json["recipient"] == "alice, bob"  # as messages name them; the delivery keeps the keys
    assert base64.b64decode(hook.json["snapshot_jpeg_base64"]) == annotated.read_bytes()

    # Apprise (json://): title and body; the snapshot as an attachment. (apprise's services carry no key of
    # ours: a receiver there cannot deduplicate a redelivery.)
    [chat] = hook_requests(http_receiver, "/apprise")
    assert chat.json["title"] == f"[{SITE}] GUN DETECTED: {camera} (door)"
    assert event.id in chat.json["message"] and chat.json["type"] == "failure"
    [attachment] = chat.json["attachments"]
    assert base64.b64decode(attachment["base64"]) == annotated.read_bytes()

    # MQTT: the message on gunwatch/events, the camera's threat state ON (retained), the custom publish.
    by_topic = {message.topic: message for message in published}
    assert by_topic["gunwatch/events"].json()["key"] == keys[("message", "mqtt", "alice,bob")]
    assert by_topic[f"gunwatch/{camera}/threat"].json()["state"] == "ON"
    assert by_topic[f"{prefix}/siren/{camera}"].json() == {"state": "ON", "camera": camera}
    with MqttCollector(mosquitto_broker, f"gunwatch/{camera}/threat") as late:
        [state] = late.wait_for(1)
    assert state.retain and state.json()["state"] == "ON" and state.json()["event_id"] == event.id

    # The call step: placeholders filled in the URL and the body.
    [call] = hook_requests(http_receiver, f"/lock/{camera}")
    assert call.method == "PUT"
    assert call.json == {"camera": camera, "zone": "door", "event": event.id, "score": "0.81"}

    # The run step: a real command, its argument filled.
    assert (tmp_path / f"ran-{camera}.flag").is_file()

    assert [run.state for run in runs(event.id)] == ["done"]
    history = audit_actions(event.id)
    assert history[0] == "protocol.started" and history.count("protocol.step") == 4
    assert history.index("protocol.done") > max(i for i, action in enumerate(history) if action == "protocol.step")
    assert history.count("delivery.queued") == history.count("delivery.delivered") == 8



@SQLITE_ONLY
def test_run_step_speaks_an_announcement_with_espeak(
    store: EventStore, start_service: Service, make_event: Events, wait_for_deliveries: Waiter, tmp_path: Path,
    http_receiver: HttpReceiver, channel: Channels, name: Names,
) -> None:
    espeak = shutil.which("espeak-ng")
    if espeak is None:
        pytest.skip("espeak-ng is not installed")
    camera = name("gym")
    announce = protocol({"run": {"command": [espeak, "-w", str(tmp_path / "lockdown-{camera}.wav"),
                                             "Lockdown. Gun seen on {camera}, {zone}."], "timeout_s": 20}})
    service = start_service(site({"announce": announce}, hook=channel(http_receiver.url())))
    event = make_event(camera=camera)
    submit(service, store, event)
    [spoken] = wait_for_deliveries(service, event.id, lambda d: d.status == "delivered", timeout=20)
    assert spoken.action == "command" and "Lockdown" not in str(spoken.payload)  # stored: a reference to the step
    wav = tmp_path / f"lockdown-{camera}.wav"
    assert wav.read_bytes()[:4] == b"RIFF" and wav.stat().st_size > 1000


# --- acknowledgement and escalation ----------------------------------------------------------------------

def escalating(timeout_s: float) -> dict[str, Any]:
    """Alert the staff by webhook, wait for an acknowledgement, then tell the principal by email."""
    return protocol(notify("hook"), {"wait_ack": {"timeout_s": timeout_s}}, notify("email", to=("carol",)))


def test_not_acknowledged_in_time_escalates(
    store: EventStore, start_service: Service, make_event: Events, smtp_server: SmtpServer,
    http_receiver: HttpReceiver, audit_actions: Actions, channel: Channels, runs: Runs,
) -> None:
    service = start_service(site({"lockdown": escalating(0.6)}, hook=channel(http_receiver.url()),
                                 email=channel(smtp_server.url)))
    event = make_event()
    started = time.monotonic()
    submit(service, store, event)
    [alert] = http_receiver.wait_for(1)
    assert alert.json["kind"] == "alert"
    [mail] = smtp_server.wait_for(1, timeout=5)
    assert time.monotonic() - started >= 0.6  # not before the wait ran out
    assert mail.rcpt_tos == ("carol@school.example",)
    assert mail.message["X-Gunwatch-Kind"] == "escalation"
    assert mail.message["Subject"].startswith(f"[{SITE}] ESCALATION:")
    assert key_of(mail.message) == f"{event.id}:lockdown:2:escalation:email:carol"
    assert "Nobody acknowledged" in mail.message.get_body().get_content()
    assert wait_until(lambda: [r.state for r in runs(event.id)] == ["done"])
    history = audit_actions(event.id)
    assert history.index("protocol.waiting_ack") < history.index("protocol.escalating") < history.index("protocol.done")


def test_acknowledged_in_time_ends_the_run_and_later_steps_never_run(
    store: EventStore, start_service: Service, make_event: Events, smtp_server: SmtpServer,
    http_receiver: HttpReceiver, channel: Channels, runs: Runs, audit: Audit, audit_actions: Actions,
) -> None:
    # An hour to answer: "in time" holds however slow the machine; the hour's end is then moved to, not waited.
    service = start_service(site({"lockdown": escalating(3600)}, hook=channel(http_receiver.url()),
                                 email=channel(smtp_server.url)))
    event = make_event()
    submit(service, store, event)
    assert wait_until(lambda: [r.state for r in runs(event.id)] == ["waiting_ack"])
    result = service.actions.acknowledge(event.id, "guard:alice", "on my way")
    assert result.changed and result.withdrawals == []
    http_receiver.wait_for(1)
    assert wait_until(lambda: [r.state for r in runs(event.id)] == ["done"], timeout=3)
    history = audit_actions(event.id)
    assert history.index("protocol.waiting_ack") < history.index("event.acknowledged") \
        < history.index("protocol.acknowledged")
    # Past the wait's deadline: nothing is left to escalate, so nothing is queued (and so nothing is sent).
    assert service.engine.tick(now=time.time() + 7200) == 0
    assert [d.kind for d in service.outbox.of_event(event.id)] == ["alert"]
    assert "protocol.escalating" not in audit_actions(event.id)
    [run] = runs(event.id)
    assert (run.state, run.escalated, run.step) == ("done", 0, 1)  # stopped at the wait_ack step
    entries = [e for e in audit(event.id) if e.action == "protocol.acknowledged"]
    assert [(e.detail["by"], e.detail["remaining_steps"]) for e in entries] == [("guard:alice", 1)]
    assert smtp_server.mails == []


# --- the verification gate -------------------------------------------------------------------------------

def verified(timeout_s: float) -> dict[str, Any]:
    return protocol(notify("hook"), verify={"to": ["verifier"], "via": ["email"], "timeout_s": timeout_s})


def test_pre_alert_goes_to_verifiers_only_and_confirm_continues_at_once(
    store: EventStore, start_service: Service, event_with_snapshot: Events, smtp_server: SmtpServer,
    http_receiver: HttpReceiver, audit_actions: Actions, channel: Channels, runs: Runs,
) -> None:
    service = start_service(site({"lockdown": verified(3600)}, hook=channel(http_receiver.url()),
                                 email=channel(smtp_server.url)))
    event = event_with_snapshot()
    submit(service, store, event)
    [mail] = smtp_server.wait_for(1)
    assert mail.rcpt_tos == ("verify@school.example",)
    assert mail.message["X-Gunwatch-Kind"] == "pre_alert"
    assert mail.message["Subject"].startswith(f"[{SITE}] VERIFY:")
    assert len(list(mail.message.iter_attachments())) == 1  # the verifier decides from the snapshot
    assert [r.state for r in runs(event.id)] == ["verifying"]
    assert [d.kind for d in service.outbox.of_event(event.id)] == ["pre_alert"]  # nobody else is told yet

    service.actions.confirm(event.id, "verifier", "real gun")
    [alert] = http_receiver.wait_for(1, timeout=10)  # at the next tick, not at the verification's timeout
    assert alert.json["kind"] == "alert"
    history = audit_actions(event.id)
    assert history.index("protocol.verifying") < history.index("event.confirmed") < history.index("protocol.verified")
    assert "protocol.verification_timed_out" not in history


def test_false_alarm_during_verification_stops_everything_and_cancels_the_pre_alert(
    store: EventStore, start_service: Service, make_event: Events, smtp_server: SmtpServer,
    http_receiver: HttpReceiver, audit_actions: Actions, channel: Channels, runs: Runs,
) -> None:
    # An hour to verify: the false alarm comes within it however slow the machine, and the history shows
    # that it did; the hour's end is then moved to, not waited for.
    service = start_service(site({"lockdown": verified(3600)}, hook=channel(http_receiver.url()),
                                 email=channel(smtp_server.url)))
    event = make_event()
    submit(service, store, event)
    smtp_server.wait_for(1)
    result = service.actions.false_alarm(event.id, "verifier", "it is a phone")
    assert result.changed and result.aborted_runs == 1
    history = audit_actions(event.id)
    assert history.index("protocol.verifying") < history.index("event.false_alarm")  # within the verification
    service.dispatcher.wake()
    [_, cancel] = smtp_server.wait_for(2)
    assert cancel.rcpt_tos == ("verify@school.example",)
    assert cancel.message["X-Gunwatch-Kind"] == "cancel"
    assert cancel.message["Subject"].startswith(f"[{SITE}] CANCELLED (false alarm):")
    text = cancel.message.get_body().get_content()
    assert "Marked by verifier." in text and "phone" not in text  # the note stays in the audit log
    # Past the verification's deadline: no fail-safe continuation is queued, so the hook is never told.
    assert service.engine.tick(now=time.time() + 7200) == 0
    assert sorted(d.kind for d in service.outbox.of_event(event.id)) == ["cancel", "pre_alert"]
    assert [r.state for r in runs(event.id)] == ["aborted"]
    assert "protocol.verification_timed_out" not in audit_actions(event.id)
    assert http_receiver.requests == [] and len(smtp_server.mails) == 2


@pytest.mark.parametrize("store_url", ["sqlite", "postgresql"], indirect=True)
def test_no_answer_within_the_verification_timeout_goes_on(
    store: EventStore, start_service: Service, make_event: Events, smtp_server: SmtpServer,
    http_receiver: HttpReceiver, channel: Channels, audit: Audit,
) -> None:
    service = start_service(site({"lockdown": verified(0.5)}, hook=channel(http_receiver.url()),
                                 email=channel(smtp_server.url)))
    event = make_event()
    submit(service, store, event)
    smtp_server.wait_for(1)
    [alert] = http_receiver.wait_for(1, timeout=3)
    assert alert.json["kind"] == "alert"
    [timed_out] = [e for e in audit(event.id) if e.action == "protocol.verification_timed_out"]
    assert timed_out.actor == "protocol:lockdown" and timed_out.detail["outcome"] == "continuing (fail-safe)"


@pytest.mark.parametrize("answer", ["confirm", "acknowledge"])
def test_history_lists_an_answer_before_what_follows_from_it(
    store: EventStore, make_event: Events, channel: Channels, audit_actions: Actions, runs: Runs, answer: str,
) -> None:
    """The alert thread's tick takes its time, then waits for the write lock while an answer is recorded:
    the history (ordered by time) must still show the answer first, and the protocol's reaction after it."""
    steps = [{"notify": {"to": ["alice"], "via": ["hook"]}}]
    if answer == "confirm":
        gated = protocol(*steps, verify={"to": ["bob"], "via": ["hook"], "timeout_s": 30})
    else:
        gated = protocol(*steps, {"wait_ack": {"timeout_s": 30}}, {"notify": {"to": ["carol"], "via": ["hook"]}})
    settings = AlertSettings.model_validate(site({"lockdown": gated}, hook=channel("http://127.0.0.1:9/unused")))
    engine = ProtocolEngine(settings, store, Outbox(store))
    event = make_event()
    store.save_event(event)
    engine.on_event(event)
    tick_began = time.time()
    time.sleep(0.01)  # the scenario, no wait for a result: the answer comes later than the tick began (stored to 1 µs)
    getattr(EventActions(store), answer)(event.id, "guard:alice")
    assert engine.tick(now=tick_began) == 1
    history = audit_actions(event.id)
    said, followed = {"confirm": ("event.confirmed", "protocol.verified"),
                      "acknowledge": ("event.acknowledged", "protocol.acknowledged")}[answer]
    assert history.index(said) < history.index(followed)
    if answer == "confirm":
        assert history.index(said) < history.index("protocol.step")
    else:
        assert [r.state for r in runs(event.id)] == ["done"]


# --- which events start a protocol -----------------------------------------------------------------------

@SQLITE_ONLY
def test_trigger_filters(
    store: EventStore, make_event: Events, channel: Channels,
) -> None:
    """The engine alone (what it queues is what would be sent): only matching events start a run."""
    settings = AlertSettings.model_validate(site(
        {"entrances": protocol(notify("hook"), trigger={"cameras": ["lobby", "gate"], "zones": ["door"],
                                                         "min_score": 0.7})},
        hook=channel("http://127.0.0.1:9/unused")))
    outbox = Outbox(store)
    engine = ProtocolEngine(settings, store, outbox)
    assert engine.on_event(make_event(camera="parking", max_score=0.9)) == []  # camera not listed
    assert engine.on_event(make_event(camera="lobby", max_score=0.69)) == []  # below min_score
    assert engine.on_event(make_event(camera="lobby", zone="yard", max_score=0.9)) == []  # zone not listed
    assert outbox.list() == []

    # An update whose score rises past the threshold starts the run the opening frame did not.
    rising = make_event(camera="gate", max_score=0.5)
    assert engine.on_event(rising) == []
    rising = dataclasses.replace(rising, state="updated", max_score=0.75)
    [run] = engine.on_event(rising)
    [delivery] = outbox.list()
    assert (delivery.event_id, delivery.run_id, delivery.kind) == (rising.id, run, "alert")


@SQLITE_ONLY
def test_an_event_first_heard_of_once_closed_still_alerts_saying_it_is_late(
    store: EventStore, make_event: Events, channel: Channels,
) -> None:
    """Its open versions never reached the alerts (its node died or was cut off, the watch crashed): a late
    alert beats none. An event heard of while open starts nothing more when it closes, in this process or
    another (a restarted alerts actor: the store says a run exists)."""
    settings = AlertSettings.model_validate(site({"entrances": protocol(notify("hook"))},
                                                 hook=channel("http://127.0.0.1:9/unused")))
    outbox = Outbox(store)
    engine = ProtocolEngine(settings, store, outbox)
    heard = make_event(camera="lobby")
    assert len(engine.on_event(heard)) == 1
    heard_closed = dataclasses.replace(heard, state="closed", closed_at=heard.confirmed_at + 30)
    assert engine.on_event(heard_closed) == []
    assert ProtocolEngine(settings, store, outbox).on_event(heard_closed) == []
    assert [d.event_id for d in outbox.list()] == [heard.id]

    missed = make_event(camera="gate", last_seen=time.time() - 40)
    missed = dataclasses.replace(missed, state="closed", closed_at=missed.last_seen + 30)
    [run] = ProtocolEngine(settings, store, outbox).on_event(missed)
    [alert] = [d for d in outbox.list() if d.event_id == missed.id]
    assert (alert.run_id, alert.kind) == (run, "alert")
    assert alert.payload["title"] == f"[{SITE}] LATE ALERT - GUN DETECTED: gate (door)"
    assert alert.payload["body"].splitlines()[1].startswith("LATE: gunwatch could not raise this alert")
    assert ProtocolEngine(settings, store, outbox).on_event(missed) == []  # heard again: once is enough

    # One whose gun was last seen too long ago (a restored store, a watch restarted after months) starts
    # nothing, and its audit log says why.
    stale = make_event(camera="dock", last_seen=time.time() - 2 * LATE_ALERT_WITHIN_S)
    stale = dataclasses.replace(stale, state="closed", closed_at=stale.last_seen + 30)
    assert ProtocolEngine(settings, store, outbox).on_event(stale) == []
    [refused] = [entry for entry in AuditLog(store).of_event(stale.id) if entry.action == "protocol.not_started"]
    assert "too old for a late alert" in refused.detail["reason"]
    assert [d for d in outbox.list() if d.event_id == stale.id] == []

    # Closed and never matching (below the trigger's score) stays quiet, as it did while open.
    quiet = AlertSettings.model_validate(site({"entrances": protocol(notify("hook"), trigger={"min_score": 0.9})},
                                              hook=channel("http://127.0.0.1:9/unused")))
    low = dataclasses.replace(make_event(camera="yard"), state="closed", closed_at=time.time())
    assert ProtocolEngine(quiet, store, outbox).on_event(low) == []


@SQLITE_ONLY
def test_schedule_outside_its_windows_starts_nothing(
    store: EventStore, make_event: Events, channel: Channels,
) -> None:
    now = time.localtime()
    other_day = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"][(now.tm_wday + 3) % 7]
    settings = AlertSettings.model_validate(site(
        {"weekend": protocol(notify("hook"), trigger={"schedule": [{"days": [other_day]}]})},
        hook=channel("http://127.0.0.1:9/unused")))
    engine = ProtocolEngine(settings, store, Outbox(store))
    assert engine.on_event(make_event()) == []
    assert engine.on_event(make_event(confirmed_at=time.time() + 3 * 86400)) != []  # on that day it would


@pytest.mark.parametrize("store_url", ["sqlite", "postgresql"], indirect=True)
def test_one_alert_per_event_however_often_it_is_submitted(
    store: EventStore, start_service: Service, make_event: Events, smtp_server: SmtpServer,
    http_receiver: HttpReceiver, channel: Channels, runs: Runs,
) -> None:
    settings = site({"lockdown": protocol(notify("email", "hook"))}, hook=channel(http_receiver.url()),
                    email=channel(smtp_server.url))
    service = start_service(settings)
    event = make_event(max_score=0.7)
    submit(service, store, event)
    for score in (0.75, 0.8, 0.85):
        event = dataclasses.replace(event, state="updated", max_score=score)
        submit(service, store, event)
    submit(service, store, event)  # the same update twice
    service.close(drain_s=5)  # handles everything submitted, delivers what is due

    # A restarted service (an empty memory of what it started) gets a later update: still the one run.
    event = dataclasses.replace(event, max_score=0.9)
    again = start_service(settings)
    submit(again, store, event)
    again.close(drain_s=5)

    assert len(runs(event.id)) == 1
    assert sorted(m.rcpt_tos[0] for m in smtp_server.mails) == ["alice@school.example", "bob@school.example"]
    assert len(http_receiver.requests) == 1
    assert [d.status for d in again.outbox.of_event(event.id)] == ["delivered"] * 3


# --- cool-down -------------------------------------------------------------------------------------------

@pytest.mark.parametrize("store_url", ["sqlite", "postgresql"], indirect=True)
def test_cool_down_merges_a_second_event_until_the_first_is_called_off(
    store: EventStore, start_service: Service, make_event: Events, http_receiver: HttpReceiver, audit_actions: Actions,
    channel: Channels, runs: Runs, audit: Audit,
) -> None:
    service = start_service(site({"lockdown": protocol(notify("hook"), cooldown_s=60)},
                                 hook=channel(http_receiver.url())))
    first = make_event()
    submit(service, store, first)
    http_receiver.wait_for(1)

    second = make_event(track_id=8)  # the same camera, within the cool-down
    submit(service, store, second)
    assert wait_until(lambda: "protocol.merged" in audit_actions(second.id))
    [merged] = [e for e in audit(second.id) if e.action == "protocol.merged"]
    assert merged.detail["into"] == first.id and merged.camera == "lobby"

    # An event on another camera is not merged. Its alert is also the marker: the alert thread handles it after
    # the second (and a tick), and the hook's lane sends oldest first, so an alert for the second would come first.
    elsewhere = make_event(camera="gate")
    submit(service, store, elsewhere)
    assert [r.json["event_id"] for r in http_receiver.wait_for(2)] == [first.id, elsewhere.id]
    assert [r.state for r in runs(second.id)] == ["merged"] and service.outbox.of_event(second.id) == []

    # The first is called a false alarm: the merged second was never alerted on, so its own run starts now
    # (a real gun must not stay silent because of another's false alarm).
    service.actions.false_alarm(first.id, "guard:bob", "toy")
    service.dispatcher.wake()
    assert wait_until(lambda: "protocol.unmerged" in audit_actions(second.id))
    kinds = [(r.json["event_id"], r.json["kind"]) for r in http_receiver.wait_for(4)]
    assert sorted(kinds) == sorted([(first.id, "alert"), (elsewhere.id, "alert"), (first.id, "cancel"),
                                    (second.id, "alert")])
    assert [r.state for r in runs(second.id)] == ["done"]
    # A third threat within the cool-down now merges into the second's run, which was not called off.
    third = make_event(track_id=9)
    submit(service, store, third)
    assert wait_until(lambda: "protocol.merged" in audit_actions(third.id))
    assert [e.detail["into"] for e in audit(third.id) if e.action == "protocol.merged"] == [second.id]


def test_a_merged_event_stays_quiet_when_the_first_is_resolved_or_it_is_called_off_itself(
    store: EventStore, start_service: Service, make_event: Events, http_receiver: HttpReceiver, audit_actions: Actions,
    channel: Channels, runs: Runs,
) -> None:
    service = start_service(site({"lockdown": protocol(notify("hook"), cooldown_s=60)},
                                 hook=channel(http_receiver.url())))
    first, second = make_event(), make_event(track_id=8)
    submit(service, store, first)
    http_receiver.wait_for(1)
    submit(service, store, second)
    assert wait_until(lambda: "protocol.merged" in audit_actions(second.id))
    service.actions.resolve(first.id, "guard:bob", "arrested")  # the incident is over: all clear
    http_receiver.wait_for(2)
    # A merged run starts only on a tick that finds its host called off: one after the resolve leaves it merged.
    service.engine.tick()
    assert [r.state for r in runs(second.id)] == ["merged"] and service.outbox.of_event(second.id) == []
    assert [r.json["kind"] for r in http_receiver.requests] == ["alert", "all_clear"]
    service.actions.false_alarm(second.id, "guard:bob", "same person")
    assert [r.state for r in runs(second.id)] == ["aborted"]


# --- camera offline --------------------------------------------------------------------------------------
def offline_protocols(channel: Channels, wait_s: float) -> AlertSettings:
    """`watchdog` tells the desk at once that a camera went offline; `guards` only once it stayed offline."""
    return AlertSettings.model_validate(site({
        "watchdog": protocol(notify("hook", to=("alice",)), trigger={"on": "camera_offline"}),
        "guards": protocol(notify("hook", to=("bob",)), trigger={"on": "camera_offline", "offline_for_s": wait_s}),
    }, hook=channel("http://127.0.0.1:9/unused")))


def started(runs: Runs) -> list[tuple[str, str]]:
    return [(run.protocol, run.camera) for run in runs()]


@SQLITE_ONLY
def test_offline_for_s_starts_a_protocol_once_the_camera_has_stayed_offline_that_long(
    store: EventStore, channel: Channels, runs: Runs,
) -> None:
    """The engine alone, on its own clock: what it queues is what would be sent."""
    outbox = Outbox(store)
    engine = ProtocolEngine(offline_protocols(channel, 30), store, outbox)
    t0 = time.time()
    assert len(engine.on_camera_offline("hall", "connection refused", at=t0)) == 1
    assert started(runs) == [("watchdog", "hall")]
    # A later report of the same spell (the reader stalled, then failed) does not restart the wait.
    engine.on_camera_offline("hall", "no frame for 10 s", at=t0 + 20)
    engine.tick(now=t0 + 29.9)
    assert [name for name, _ in started(runs)] == ["watchdog", "watchdog"]  # the repeat merged into the first run
    assert engine.tick(now=t0 + 30) >= 1
    assert started(runs)[-1] == ("guards", "hall")
    [to_bob] = [d for d in outbox.list() if d.run_id == runs()[-1].id]
    assert to_bob.kind == "camera_offline" and "no frame for 10 s (offline for 30 s)" in to_bob.payload["body"]
    engine.tick(now=t0 + 90)
    assert len(runs()) == 3  # once a spell


@SQLITE_ONLY
def test_a_camera_back_before_offline_for_s_starts_nothing_and_the_next_spell_waits_again(
    store: EventStore, channel: Channels, runs: Runs,
) -> None:
    engine = ProtocolEngine(offline_protocols(channel, 30), store, Outbox(store))
    t0 = time.time()
    assert engine.on_camera_online("hall", at=t0 - 1) == []  # online at the start: no spell ended
    engine.on_camera_offline("hall", "connection refused", at=t0)
    engine.on_camera_offline("gate", "connection refused", at=t0 + 5)
    assert engine.on_camera_online("hall", at=t0 + 10) == ["guards"]  # spared: it told nobody
    engine.tick(now=t0 + 100)
    assert sorted(started(runs)) == [("guards", "gate"), ("watchdog", "gate"), ("watchdog", "hall")]
    assert engine.on_camera_online("gate", at=t0 + 101) == []  # it had started: the all-clear's business

    engine.on_camera_offline("hall", "connection refused", at=t0 + 200)
    engine.tick(now=t0 + 229)
    assert ("guards", "hall") not in started(runs)
    engine.tick(now=t0 + 230)
    assert ("guards", "hall") in started(runs)




@pytest.mark.parametrize("store_url", ["sqlite", "postgresql"], indirect=True)
def test_camera_offline_alerts_and_back_online_sends_all_clear(
    store: EventStore, start_service: Service, smtp_server: SmtpServer, mosquitto_broker: MosquittoBroker,
    make_event: Events, channel: Channels, name: Names, runs: Runs, audit: Audit,
) -> None:
    camera, prefix = name("hall"), name("gwoff")
    watchdog = protocol(notify("email", "mqtt", to=("alice", "carol")),
                        trigger={"on": "camera_offline", "cameras": [camera]})
    service = start_service(site({"watchdog": watchdog}, email=channel(smtp_server.url),
                                 mqtt=channel(mosquitto_broker.url, topic_prefix=prefix)))
    with MqttCollector(mosquitto_broker, f"{prefix}/#") as seen:
        service.submit_health(HealthChange("other-camera", "offline", "connection refused", time.time()))
        service.submit_health(HealthChange(camera, "offline", "connection refused", time.time()))
        mails = smtp_server.wait_for(2)
        assert sorted(m.rcpt_tos[0] for m in mails) == ["alice@school.example", "carol@school.example"]
        for mail in mails:
            assert mail.message["X-Gunwatch-Kind"] == "camera_offline"
            assert mail.message["Subject"] == f"[{SITE}] CAMERA OFFLINE: {camera}"
            assert "connection refused" in mail.message.get_body().get_content()
        offline = seen.wait_for_topic(f"{prefix}/{camera}/availability")
        assert offline[-1].payload == b"offline"
        subject = offline[0].json()["event_id"]
        assert subject.startswith("offline-")

        service.submit_health(HealthChange(camera, "online", "frames again", time.time()))
        mails = smtp_server.wait_for(4)
        clear = [m for m in mails if m.message["X-Gunwatch-Kind"] == "all_clear"]
        assert sorted(m.rcpt_tos[0] for m in clear) == ["alice@school.example", "carol@school.example"]
        assert all(m.message["Subject"] == f"[{SITE}] ALL CLEAR: {camera}" for m in clear)
        state = seen.wait_for_topic(f"{prefix}/{camera}/threat")[-1]
        assert state.json()["state"] == "OFF" and state.json()["kind"] == "all_clear"

    # Online again and again: nothing more to clear. Then offline once more, a marker: the alert thread handles it
    # after the repeated online, and the email lane sends oldest first, so a second all-clear would come first.
    service.submit_health(HealthChange(camera, "online", "frames again", time.time()))
    service.submit_health(HealthChange(camera, "offline", "connection refused", time.time()))
    kinds = [m.message["X-Gunwatch-Kind"] for m in smtp_server.wait_for(6)]
    assert kinds == ["camera_offline"] * 2 + ["all_clear"] * 2 + ["camera_offline"] * 2
    assert [(r.trigger, r.state) for r in runs(subject)] == [("camera_offline", "aborted")]
    history = [e.action for e in audit(subject)]
    assert history[0] == "protocol.started" and "event.resolved" in history and "event.all_clear_queued" in history
