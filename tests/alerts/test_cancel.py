"""Calling an alert off (false alarm, resolve) after a PARTIAL delivery, against real receivers on loopback.

The alert was delivered to some, one receiver kept failing (its delivery was attempted and is being
retried), and one delivery was not attempted yet (held back by the rate limit). Then a person marks a
false alarm: everyone the alert may have reached gets exactly one cancel, nothing not yet attempted is
ever sent, the escalation never comes, and the actions that ran are undone. Run on both store backends.
"""

from __future__ import annotations

import dataclasses
import json
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import update

from gunwatch.alerts.audit import AuditEntry
from gunwatch.alerts.event_actions import ActionRefused, EventActions
from gunwatch.alerts.message import AlertMessage
from gunwatch.alerts.outbox import Delivery, NewDelivery, Outbox
from gunwatch.alerts.protocols.engine import ProtocolEngine
from gunwatch.alerts.service import AlertService
from gunwatch.config.alerts import AlertSettings
from gunwatch.events.model import ThreatEvent
from gunwatch.events.store import EventStore
from gunwatch.events.store.schema import DispositionRow, ProtocolRunRow
from support.http_receiver import HttpReceiver
from support.mosquitto import MosquittoBroker, MqttCollector
from support.smtp_server import SmtpServer
from support.waiting import wait_until

Service = Callable[..., AlertService]
Events = Callable[..., ThreatEvent]
Channels = Callable[..., dict[str, Any]]
Names = Callable[[str], str]
Runs = Callable[..., list[Any]]
Audit = Callable[[str], list[AuditEntry]]
Actions = Callable[[str], list[str]]
Waiter = Callable[..., list[Delivery]]

STAFF = ("alice", "bob", "carol")
WAIT_S = 30.0  # how long a wait for a condition may take before the test fails (a busy machine is slow)
ADDRESS = {name: f"{name}@school.example" for name in STAFF}


def site(protocol: dict[str, Any], **channels: dict[str, Any]) -> dict[str, Any]:
    return {
        "site_name": "Test School",
        "channels": channels,
        "recipients": {name: {"addresses": {"email": ADDRESS[name]} if "email" in channels else {}} for name in STAFF},
        "groups": {"staff": list(STAFF)},
        "protocols": {"lockdown": protocol},
    }


def lockdown(actions: HttpReceiver, prefix: str, tmp_path: Path, wait_ack_s: float = 30.0) -> dict[str, Any]:
    """Tell the staff on three channels, lock the doors, sound the siren, announce; a second word to alice
    (held back: she was mailed a moment ago); then wait for an acknowledgement, and escalate."""
    camera_body = {"camera": "{camera}", "event": "{event_id}"}
    return {"steps": [
        {"notify": {"to": ["group:staff"], "via": ["email", "hook", "mqtt"]}},
        {"call": {"url": actions.url("/lock"), "body": camera_body,
                  "cancel": {"url": actions.url("/unlock"), "body": camera_body}}},
        {"publish": {"channel": "mqtt", "topic": f"{prefix}/siren/{{camera}}", "payload": "ON", "retain": True,
                     "cancel_payload": "OFF"}},
        {"run": {"command": ["touch", str(tmp_path / "announced-{camera}")],
                 "cancel_command": ["touch", str(tmp_path / "stood-down-{camera}")], "timeout_s": 5}},
        {"notify": {"to": ["alice"], "via": ["email"]}},
        {"wait_ack": {"timeout_s": wait_ack_s}},
        {"notify": {"to": ["group:staff"], "via": ["email", "hook"]}},
    ]}


def mails(smtp: SmtpServer, kind: str) -> dict[str, list[Any]]:
    """Who got which emails of `kind`: address -> messages."""
    found: dict[str, list[Any]] = {}
    for mail in smtp.mails:
        if mail.message["X-Gunwatch-Kind"] == kind:
            found.setdefault(mail.rcpt_tos[0], []).append(mail.message)
    return found


def kinds(receiver: HttpReceiver, path: str = "/hook") -> list[str]:
    return [r.headers.get("x-gunwatch-kind", "") for r in receiver.requests if r.path == path]


def retained(broker: MosquittoBroker, topic: str) -> bytes:
    """What a subscriber connecting now is given on `topic` (a retained message)."""
    with MqttCollector(broker, topic) as late:
        [message] = late.wait_for(1)
    assert message.retain
    return message.payload


def by_key(deliveries: list[Delivery]) -> dict[str, Delivery]:
    return {d.key: d for d in deliveries}


@pytest.fixture
def partial(
    store: EventStore, start_service: Service, make_event: Events, channel: Channels, name: Names,
    smtp_server: SmtpServer, http_receiver: HttpReceiver, more_receivers: Callable[[], HttpReceiver],
    mosquitto_broker: MosquittoBroker, wait_for_deliveries: Waiter, runs: Runs, audit: Audit, tmp_path: Path,
) -> dict[str, Any]:
    """A lockdown run left partly delivered: emails to alice, bob and carol delivered, the MQTT message and
    the lock / siren / announcement done; the webhook failing (attempted twice or more, being retried); the
    second email to alice held back by the rate limit (never attempted); the run waiting for an ack.

    Each of these is waited for as the condition it is (a row's state, the audit entry of the hold-back),
    never for a time: on a busy machine the lanes get there later, not differently."""
    failing, actions = http_receiver, more_receivers()
    failing.set_mode("fail", status=503)
    camera, prefix = name("lobby"), name("gwcancel")
    settings = site(lockdown(actions, prefix, tmp_path),
                    email=channel(smtp_server.url, max_per_minute=1), hook=channel(failing.url("/hook")),
                    mqtt=channel(mosquitto_broker.url, topic_prefix=prefix))
    service = start_service(settings)
    event = make_event(camera=camera)
    store.save_event(event)
    service.submit_event(event)

    smtp_server.wait_for(3, timeout=WAIT_S)
    done = wait_for_deliveries(service, event.id, lambda d: d.status == "delivered", count=7, timeout=WAIT_S)
    assert {(d.action, d.channel) for d in done} == {("message", "email"), ("message", "mqtt"), ("call", None),
                                                    ("publish", "mqtt"), ("command", None)}
    assert wait_until(lambda: [r.state for r in runs(event.id)] == ["waiting_ack"], timeout=WAIT_S)
    [retrying] = wait_for_deliveries(service, event.id, lambda d: d.channel == "hook" and d.attempts >= 2,
                                     timeout=WAIT_S)
    # The second email to alice is held back once the email lane reaches it (claimed, then put back): until
    # then it is pending but due, or being claimed. Its audit entry says the hold-back is done.
    [second] = [d for d in service.outbox.of_event(event.id) if d.step == 4]
    assert wait_until(lambda: any(entry.action == "delivery.deferred" and entry.detail["key"] == second.key
                                  for entry in audit(event.id)), timeout=WAIT_S)
    held = service.outbox.get(second.key)
    assert held is not None and (held.status, held.attempts, held.recipient) == ("pending", 0, "alice")
    [first] = [d for d in done if d.step == 0 and d.recipient == "alice" and d.channel == "email"]
    assert first.first_attempt_at is not None
    assert held.next_attempt_at >= first.first_attempt_at + 60  # a minute after the first: one per minute
    assert actions.wait_for(1, timeout=WAIT_S)[0].path == "/lock"
    return {"service": service, "event": event, "camera": camera, "prefix": prefix, "failing": failing,
            "actions": actions, "retrying": retrying, "held": held}


def test_false_alarm_after_partial_delivery(
    partial: dict[str, Any], store_url: str, store: EventStore, smtp_server: SmtpServer,
    mosquitto_broker: MosquittoBroker, runs: Runs, audit: Audit, tmp_path: Path,
) -> None:
    service: AlertService = partial["service"]
    event: ThreatEvent = partial["event"]
    camera, prefix, failing, actions = partial["camera"], partial["prefix"], partial["failing"], partial["actions"]
    alerts = by_key(service.outbox.of_event(event.id))

    # From another process, as `gunwatch event false-alarm` does: its own store connection and outbox.
    with EventStore(store_url) as cli_store:
        result = EventActions(cli_store).false_alarm(event.id, "cli:dana", "a phone, not a gun")
    assert result.changed and result.aborted_runs == 1

    # One cancel for each (channel, recipient) the alert reached or tried; the undo of each action.
    e = event.id
    assert sorted(result.withdrawals) == sorted([
        *(f"{e}:cancel:email:{name}:{ADDRESS[name]}" for name in STAFF),
        f"{e}:cancel:hook:alice,bob,carol:-",  # attempted (and failed): it may have arrived
        f"{e}:cancel:mqtt:alice,bob,carol:-",
        f"{e}:lockdown:1:call:cancel", f"{e}:lockdown:2:publish:cancel", f"{e}:lockdown:3:run:cancel",
    ])
    assert not set(result.withdrawals) & set(alerts)  # cancels have keys of their own

    # The email held back by the rate limit is cancelled at once: never attempted, never sent.
    held = service.outbox.get(partial["held"].key)
    assert held is not None and (held.status, held.attempts) == ("cancelled", 0)

    # Every recipient reached gets exactly one cancel, alice too (she had two alerts coming).
    smtp_server.wait_for(6)
    cancels = mails(smtp_server, "cancel")
    assert {address: len(messages) for address, messages in cancels.items()} == {ADDRESS[n]: 1 for n in STAFF}
    for message in (m for messages in cancels.values() for m in messages):
        assert message["Subject"] == f"[Test School] CANCELLED (false alarm): {camera} (door)"
        text = message.get_body().get_content()
        # Who called it off, never their free text: the note is for the audit log.
        assert "Marked by cli:dana." in text and "a phone" not in text
    assert {a: len(m) for a, m in mails(smtp_server, "alert").items()} == {ADDRESS[n]: 1 for n in STAFF}

    # The actions are undone: doors unlocked, siren and threat state OFF (retained), stood down.
    assert wait_until(lambda: [r.path for r in actions.requests] == ["/lock", "/unlock"])
    assert actions.requests[1].json == {"camera": camera, "event": event.id}
    assert wait_until(lambda: (tmp_path / f"stood-down-{camera}").is_file())
    assert wait_until(lambda: service.outbox.get(f"{e}:cancel:mqtt:alice,bob,carol:-").status == "delivered")
    assert wait_until(lambda: service.outbox.get(f"{e}:lockdown:2:publish:cancel").status == "delivered")
    assert retained(mosquitto_broker, f"{prefix}/siren/{camera}") == b"OFF"
    threat = json.loads(retained(mosquitto_broker, f"{prefix}/{camera}/threat"))
    assert (threat["state"], threat["kind"], threat["event_id"]) == ("OFF", "cancel", event.id)

    # The failing webhook's alert is cancelled, not retried; its cancel waits for the receiver.
    retrying = partial["retrying"]
    assert wait_until(lambda: service.outbox.get(retrying.key).status == "cancelled")
    tried = len(failing.requests)
    failing.set_mode("ok")
    assert wait_until(lambda: service.outbox.get(f"{e}:cancel:hook:alice,bob,carol:-").status == "delivered")
    # No wait for a retry that must not come: the alert is cancelled (no worker claims it again), and its cancel
    # is never claimed while it is in flight on the lane, so nothing of it can arrive after the cancel. (The
    # cancel itself may arrive twice: an attempt under way when the receiver came back may have failed.)
    after = [r.headers["x-gunwatch-kind"] for r in failing.requests[tried:]]
    assert after and set(after) == {"cancel"}  # the alert never arrives after it
    assert set(kinds(failing)) == {"alert", "cancel"} and kinds(failing)[-1] == "cancel"

    # The escalation never comes, however long one waits.
    assert [r.state for r in runs(event.id)] == ["aborted"]
    assert service.engine.tick(now=time.time() + 3600) == 0
    assert not [d for d in service.outbox.of_event(event.id) if d.kind == "escalation"]
    assert len(smtp_server.mails) == 6

    # Nothing left to send; and the history says what happened.
    assert wait_until(lambda: {d.status for d in service.outbox.of_event(event.id)} == {"delivered", "cancelled"})
    history = audit(event.id)
    actions_by = [(entry.action, entry.actor) for entry in history]
    assert ("event.false_alarm", "cli:dana") in actions_by
    assert next(e for e in history if e.action == "event.false_alarm").detail["note"] == "a phone, not a gun"
    assert ("protocol.aborted", "cli:dana") in actions_by
    assert ("event.cancel_queued", "cli:dana") in actions_by
    cancelled = [entry for entry in history if entry.action == "delivery.cancelled"]
    assert partial["held"].key in {entry.detail["key"] for entry in cancelled}


def test_repeated_false_alarm_sends_nothing_new_and_a_false_alarm_cannot_be_resolved(
    partial: dict[str, Any], store: EventStore, audit: Audit,
) -> None:
    service: AlertService = partial["service"]
    event: ThreatEvent = partial["event"]
    first = service.actions.false_alarm(event.id, "guard:alice")
    before = by_key(service.outbox.of_event(event.id))
    again = service.actions.false_alarm(event.id, "guard:bob", "also a phone")
    assert not again.changed and again.withdrawals == [] and again.aborted_runs == 0
    assert set(by_key(service.outbox.of_event(event.id))) == set(before)
    assert first.withdrawals
    with pytest.raises(ActionRefused, match="already false alarm"):
        service.actions.resolve(event.id, "guard:carol")
    with pytest.raises(ActionRefused, match="already false alarm"):
        service.actions.acknowledge(event.id, "guard:carol")
    assert set(by_key(service.outbox.of_event(event.id))) == set(before)
    actions = [(entry.action, entry.actor) for entry in audit(event.id)]
    assert ("event.false_alarm.repeated", "guard:bob") in actions
    assert actions.count(("event.false_alarm", "guard:alice")) == 1
    with pytest.raises(ActionRefused, match="no event"):
        service.actions.false_alarm("no-such-event", "guard:alice")


def test_resolve_after_partial_delivery_sends_all_clear(
    partial: dict[str, Any], smtp_server: SmtpServer, mosquitto_broker: MosquittoBroker, runs: Runs,
) -> None:
    service: AlertService = partial["service"]
    event: ThreatEvent = partial["event"]
    camera, prefix, failing, actions = partial["camera"], partial["prefix"], partial["failing"], partial["actions"]
    result = service.actions.resolve(event.id, "guard:alice", "police on site, suspect detained")
    assert result.changed and result.aborted_runs == 1
    service.dispatcher.wake()
    e = event.id
    assert f"{e}:all_clear:hook:alice,bob,carol:-" in result.withdrawals
    assert service.outbox.get(partial["held"].key).status == "cancelled"

    smtp_server.wait_for(6)
    clear = mails(smtp_server, "all_clear")
    assert {address: len(messages) for address, messages in clear.items()} == {ADDRESS[n]: 1 for n in STAFF}
    assert all(m["Subject"] == f"[Test School] ALL CLEAR: {camera} (door)" for ms in clear.values() for m in ms)
    assert wait_until(lambda: [r.path for r in actions.requests] == ["/lock", "/unlock"])
    assert wait_until(lambda: service.outbox.get(f"{e}:lockdown:2:publish:all_clear").status == "delivered")
    assert wait_until(lambda: service.outbox.get(f"{e}:all_clear:mqtt:alice,bob,carol:-").status == "delivered")
    assert retained(mosquitto_broker, f"{prefix}/siren/{camera}") == b"OFF"
    assert b'"state": "OFF"' in retained(mosquitto_broker, f"{prefix}/{camera}/threat")

    assert wait_until(lambda: service.outbox.get(partial["retrying"].key).status == "cancelled")
    tried = len(failing.requests)
    failing.set_mode("ok")
    assert wait_until(lambda: service.outbox.get(f"{e}:all_clear:hook:alice,bob,carol:-").status == "delivered")
    # As above: the alert is cancelled, so nothing of it can arrive after its all-clear; nothing to wait for.
    after = [r.headers["x-gunwatch-kind"] for r in failing.requests[tried:]]
    assert after and set(after) == {"all_clear"}
    assert [r.state for r in runs(event.id)] == ["aborted"]
    with pytest.raises(ActionRefused, match="already resolved"):
        service.actions.false_alarm(event.id, "guard:bob")


def test_acknowledged_event_can_still_be_a_false_alarm_and_the_history_shows_everything(
    store: EventStore, start_service: Service, make_event: Events, channel: Channels, http_receiver: HttpReceiver,
    wait_for_deliveries: Waiter, runs: Runs, audit: Audit,
) -> None:
    http_receiver.set_mode("fail", status=500)
    protocol = {"steps": [{"notify": {"to": ["group:staff"], "via": ["hook"]}}, {"wait_ack": {"timeout_s": 30}},
                          {"notify": {"to": ["carol"], "via": ["hook"]}}]}
    service = start_service(site(protocol, hook=channel(http_receiver.url())))
    event = make_event()
    store.save_event(event)
    service.submit_event(event)
    wait_for_deliveries(service, event.id, lambda d: d.attempts >= 2)
    http_receiver.set_mode("ok")
    [alert] = wait_for_deliveries(service, event.id, lambda d: d.status == "delivered")

    acknowledged = service.actions.acknowledge(event.id, "guard:alice", "checking the camera")
    assert acknowledged.changed and acknowledged.withdrawals == []
    assert wait_until(lambda: [r.state for r in runs(event.id)] == ["done"])
    assert not service.actions.acknowledge(event.id, "guard:bob").changed  # said already

    result = service.actions.false_alarm(event.id, "guard:alice", "a phone")
    assert result.changed and result.withdrawals == [f"{event.id}:cancel:hook:alice,bob,carol:-"]
    service.dispatcher.wake()
    assert wait_until(lambda: service.outbox.get(result.withdrawals[0]).status == "delivered")
    assert [r.headers["x-gunwatch-kind"] for r in http_receiver.requests][-1] == "cancel"

    # The history (`gunwatch event show`): state changes, every delivery attempt, who said what.
    history = audit(event.id)
    steps = [(entry.action, entry.actor) for entry in history]
    assert steps[0] == ("protocol.started", "protocol:lockdown")
    for expected in [("protocol.step", "protocol:lockdown"), ("protocol.waiting_ack", "protocol:lockdown"),
                     ("event.acknowledged", "guard:alice"), ("event.acknowledged.repeated", "guard:bob"),
                     ("protocol.acknowledged", "protocol:lockdown"), ("event.false_alarm", "guard:alice"),
                     ("event.cancel_queued", "guard:alice"), ("delivery.queued", "outbox")]:
        assert expected in steps, expected
    acknowledged_entry = next(entry for entry in history if entry.action == "protocol.acknowledged")
    assert acknowledged_entry.detail["by"] == "guard:alice"
    assert next(e for e in history if e.action == "event.acknowledged").detail["note"] == "checking the camera"
    attempts = [entry for entry in history if entry.detail.get("key") == alert.key
                and entry.action in ("delivery.failed_attempt", "delivery.delivered")]
    final = service.outbox.get(alert.key)
    assert final is not None and len(attempts) == final.attempts >= 2  # at least one failed, then delivered
    assert [entry.detail["attempt"] for entry in attempts] == list(range(1, final.attempts + 1))
    assert all("HTTP 500" in entry.detail["error"] for entry in attempts[:-1])
    assert attempts[-1].action == "delivery.delivered"
    # Ordered as it happened: the acknowledgement before the false alarm, the cancel after both.
    order = [entry.action for entry in history]
    assert order.index("event.acknowledged") < order.index("event.false_alarm") < order.index("event.cancel_queued")


# --- races between a worker settling an attempt and a withdrawal ----------------------------------------

def alert_delivery(event_id: str) -> NewDelivery:
    key = f"{event_id}:lockdown:0:alert:email:alice"
    message = AlertMessage(key=key, kind="alert", title="GUN DETECTED: lobby", body="...", camera="lobby",
                           event_id=event_id, recipient="alice")
    return NewDelivery(key, "alert", "message", "email", message.to_json(), event_id, None, 0, "email", "alice",
                       ADDRESS["alice"])


@pytest.mark.parametrize("settle", ["retry", "defer"])
def test_an_attempt_settled_while_the_withdrawal_commits_is_cancelled(
    store: EventStore, make_event: Events, settle: str,
) -> None:
    """A worker's attempt ends (failed: retry; rate-limited: defer) while a false alarm's transaction is
    committing. Either order must end with the alert cancelled: sent later, it would arrive after its cancel."""
    event = make_event()
    store.save_event(event)
    outbox = Outbox(store)
    [key] = outbox.enqueue([alert_delivery(event.id)])
    claimed = outbox.claim("email", 330)
    assert claimed is not None and claimed.key == key

    def settle_attempt() -> None:
        if settle == "retry":
            outbox.retry(claimed, "timed out", time.time() + 0.05)
        else:
            outbox.defer(claimed, time.time() + 60, "rate limit: too many messages to this address")

    worker = threading.Thread(target=settle_attempt)
    with store.write_session.begin() as session:  # what EventActions.false_alarm does, held open a moment
        reached = outbox.withdraw(session, event.id)
        assert [d.key for d in reached] == [key]  # in flight: it may reach alice, so she gets a cancel
        cancel = NewDelivery(f"{event.id}:cancel:email:alice", "cancel", "message", "email", {}, event.id,
                             channel="email", recipient="alice", address=ADDRESS["alice"])
        outbox.enqueue([cancel], session)
        worker.start()
        worker.join(0.3)  # the worker settles now, or waits for this transaction
    worker.join(10)
    assert not worker.is_alive()
    settled = outbox.get(key)
    assert settled is not None and settled.status == "cancelled"


def test_a_deferred_alert_of_a_withdrawn_event_is_cancelled(store: EventStore, make_event: Events) -> None:
    """The rate limit holds an alert back after its event was called off: cancelled, not put back."""
    event = make_event()
    store.save_event(event)
    outbox = Outbox(store)
    [key] = outbox.enqueue([alert_delivery(event.id)])
    claimed = outbox.claim("email", 330)
    assert claimed is not None
    result = EventActions(store, outbox).false_alarm(event.id, "guard:alice")
    assert result.withdrawals  # claimed: it counts as attempted
    outbox.defer(claimed, time.time() + 60, "rate limit: too many messages to this address")
    settled = outbox.get(key)
    assert settled is not None and settled.status == "cancelled"


def engine_on(store: EventStore, protocol: dict[str, Any]) -> ProtocolEngine:
    settings = AlertSettings.model_validate(site(protocol, email={"url": "smtp://127.0.0.1:9"}))
    return ProtocolEngine(settings, store, Outbox(store))


@pytest.mark.parametrize("waiting", ["verifying", "waiting_ack"])
def test_a_tick_while_a_false_alarm_commits_neither_alerts_nor_revives_the_run(
    store: EventStore, make_event: Events, runs: Runs, waiting: str,
) -> None:
    """The alert thread's tick finds the run's deadline passed just as a false alarm is being recorded (from
    another process). The run stays aborted and nothing new is queued: an alert queued now would never be
    withdrawn (the withdrawal has run already) and would arrive after the cancel."""
    steps: list[dict[str, Any]] = [{"notify": {"to": ["alice"], "via": ["email"]}}]
    if waiting == "verifying":
        protocol = {"steps": steps, "verify": {"to": ["bob"], "via": ["email"], "timeout_s": 5}}
    else:
        protocol = {"steps": [*steps, {"wait_ack": {"timeout_s": 5}}, {"notify": {"to": ["carol"], "via": ["email"]}}]}
    engine = engine_on(store, protocol)
    event = make_event()
    store.save_event(event)
    engine.on_event(event)
    [run] = runs(event.id)
    assert run.state == waiting
    queued = {d.key for d in engine.outbox.of_event(event.id)}

    now = time.time()
    ticker = threading.Thread(target=engine.tick, kwargs={"now": now + 60})  # past the deadline
    with store.write_session.begin() as session:  # the false alarm's transaction, as EventActions writes it
        session.add(DispositionRow(event_id=event.id, disposition="false_alarm", actor="guard:alice", note=None,
                                   acknowledged_at=None, at=now))
        session.execute(update(ProtocolRunRow).where(ProtocolRunRow.event_id == event.id)
                        .values(state="aborted", wake_at=None, updated_at=now))
        session.flush()
        engine.outbox.withdraw(session, event.id)
        ticker.start()
        ticker.join(0.3)  # the tick runs now, or waits for this transaction
    ticker.join(10)
    assert not ticker.is_alive()
    assert [r.state for r in runs(event.id)] == ["aborted"]
    assert {d.key for d in engine.outbox.of_event(event.id)} == queued  # no alert, no escalation


def test_no_protocol_starts_for_an_event_already_called_off(
    store: EventStore, make_event: Events, runs: Runs, audit: Audit,
) -> None:
    """An event marked a false alarm (or resolved) before any protocol ran (its score was below the trigger's)
    must not start one when an update raises the score: such an alert could not even be withdrawn."""
    engine = engine_on(store, {"steps": [{"notify": {"to": ["group:staff"], "via": ["email"]}}],
                               "trigger": {"min_score": 0.7}})
    for disposition in ("false_alarm", "resolve"):
        event = make_event(max_score=0.5)
        store.save_event(event)
        assert engine.on_event(event) == []
        getattr(EventActions(store), disposition)(event.id, "guard:alice", "seen on the monitor")
        event = dataclasses.replace(event, state="updated", max_score=0.9)
        assert engine.on_event(event) == []
        assert runs(event.id) == [] and engine.outbox.of_event(event.id) == []
        assert "protocol.not_started" in [entry.action for entry in audit(event.id)]
