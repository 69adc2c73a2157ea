"""The dispatcher's workers against real receivers: a webhook on loopback and a file sink."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path

from gunwatch.alerts.audit import AuditLog
from gunwatch.alerts.channels.file_sink import FileChannel
from gunwatch.alerts.channels.webhook import WebhookChannel
from gunwatch.alerts.outbox import NewDelivery, Outbox
from gunwatch.alerts.outbox.dispatcher import Dispatcher
from gunwatch.config.channels import BaseChannelConfig, RetrySettings
from support.http_receiver import HttpReceiver
from support.waiting import wait_until

MessageFactory = Callable[..., NewDelivery]
StartDispatcher = Callable[..., Dispatcher]
Settles = Callable[..., bool]
ConfigFactory = Callable[..., BaseChannelConfig]


def keys_received(receiver: HttpReceiver) -> list[str]:
    return [request.headers.get("x-gunwatch-key", "") for request in receiver.requests]


def audit_actions(audit_log: AuditLog, event_id: str = "evt-1") -> list[str]:
    return [entry.action for entry in audit_log.of_event(event_id)]


def lane_passes_a_marker(dispatcher: Dispatcher, outbox: Outbox, new_message: MessageFactory, settles: Settles,
                         lane: str = "ops") -> None:
    """Send a marker down `lane` and wait until it is delivered. The lane's one worker takes its deliveries
    oldest due first, so a second attempt of anything before it (a duplicate, a retry) would have come first."""
    outbox.enqueue([new_message("marker:alert", lane=lane, event_id="marker")])
    dispatcher.wake(lane)
    assert settles("marker:alert", "delivered")


def test_delivered_exactly_once_when_the_receiver_comes_back(
        http_receiver: HttpReceiver, outbox: Outbox, audit_log: AuditLog, new_message: MessageFactory,
        start_dispatcher: StartDispatcher, settles: Settles, make_config: ConfigFactory) -> None:
    """A receiver that is down is retried with backoff; once it is back the message arrives, once."""
    http_receiver.stop()
    dispatcher = start_dispatcher({"ops": WebhookChannel("ops", make_config(http_receiver.url()))})
    outbox.enqueue([new_message("evt-1:alert:ops")])
    dispatcher.wake("ops")
    assert wait_until(lambda: audit_actions(audit_log).count("delivery.failed_attempt") >= 2)
    http_receiver.start()

    assert settles("evt-1:alert:ops", "delivered")
    lane_passes_a_marker(dispatcher, outbox, new_message, settles)
    assert keys_received(http_receiver) == ["evt-1:alert:ops", "marker:alert"]
    assert http_receiver.requests[0].json["kind"] == "alert"
    row = outbox.get("evt-1:alert:ops")
    assert row is not None and row.attempts >= 3 and row.last_error is None
    actions = audit_actions(audit_log)
    assert actions[0] == "delivery.queued" and actions[-1] == "delivery.delivered"
    assert set(actions[1:-1]) == {"delivery.failed_attempt"}


def test_a_rejected_message_fails_at_once(
        http_receiver: HttpReceiver, outbox: Outbox, audit_log: AuditLog, new_message: MessageFactory,
        start_dispatcher: StartDispatcher, settles: Settles, make_config: ConfigFactory) -> None:
    """HTTP 400 is our mistake, which no retry fixes: one attempt, then `failed`."""
    http_receiver.set_mode("fail", 400)
    dispatcher = start_dispatcher({"ops": WebhookChannel("ops", make_config(http_receiver.url()))})
    outbox.enqueue([new_message("evt-1:alert:ops")])
    dispatcher.wake("ops")

    assert settles("evt-1:alert:ops", "failed")
    http_receiver.set_mode("ok")  # the marker is answered, and so would a retry be
    lane_passes_a_marker(dispatcher, outbox, new_message, settles)
    assert keys_received(http_receiver) == ["evt-1:alert:ops", "marker:alert"]
    row = outbox.get("evt-1:alert:ops")
    assert row is not None and row.attempts == 1 and "HTTP 400" in (row.last_error or "")
    assert audit_actions(audit_log) == ["delivery.queued", "delivery.given_up"]


def test_gives_up_after_max_attempts(
        http_receiver: HttpReceiver, outbox: Outbox, new_message: MessageFactory, start_dispatcher: StartDispatcher,
        settles: Settles, make_config: ConfigFactory) -> None:
    """A receiver failing with 500 is retried up to `max_attempts` times, then the delivery is failed."""
    http_receiver.set_mode("fail", 503)
    config = make_config(http_receiver.url(), retry=RetrySettings(initial_s=0.05, max_s=0.1, max_attempts=3))
    dispatcher = start_dispatcher({"ops": WebhookChannel("ops", config)})
    outbox.enqueue([new_message("evt-1:alert:ops")])
    dispatcher.wake("ops")

    assert settles("evt-1:alert:ops", "failed")
    row = outbox.get("evt-1:alert:ops")
    assert row is not None and row.attempts == 3 and "gave up after 3 attempts" in (row.last_error or "")
    assert keys_received(http_receiver) == ["evt-1:alert:ops"] * 3


def test_a_hanging_receiver_holds_only_its_own_lane(
        http_receiver: HttpReceiver, outbox: Outbox, new_message: MessageFactory, start_dispatcher: StartDispatcher,
        settles: Settles, make_config: ConfigFactory, tmp_path: Path) -> None:
    """While a webhook hangs (its lane's worker waits for the answer), the file channel delivers at once."""
    http_receiver.set_mode("hang")
    sink = tmp_path / "alerts.jsonl"
    dispatcher = start_dispatcher({
        "hook": WebhookChannel("hook", make_config(http_receiver.url(), timeout_s=10)),
        "file": FileChannel("file", make_config(f"file://{sink}")),
    })
    try:
        outbox.enqueue([new_message("evt-1:alert:hook", lane="hook")])
        dispatcher.wake("hook")
        http_receiver.wait_for(1)  # the webhook's worker is now waiting for an answer

        outbox.enqueue([new_message("evt-1:alert:file", lane="file")])
        dispatcher.wake("file")
        assert settles("evt-1:alert:file", "delivered")
        assert [json.loads(line)["key"] for line in sink.read_text().splitlines()] == ["evt-1:alert:file"]
        # No time limit on the file's delivery: the webhook's attempt still in flight shows it did not wait for it.
        assert outbox.get("evt-1:alert:hook").status == "sending"  # type: ignore[union-attr]
    finally:
        http_receiver.release()
    assert settles("evt-1:alert:hook", "delivered")


def test_rate_limit_defers_the_third_message_but_never_a_cancel(
        http_receiver: HttpReceiver, outbox: Outbox, audit_log: AuditLog, new_message: MessageFactory,
        start_dispatcher: StartDispatcher, settles: Settles, make_config: ConfigFactory) -> None:
    """Two messages a minute to one address: the third waits (pending, about a minute later, no attempt
    counted); a cancel to the same address, and a message to another address, go at once."""
    dispatcher = start_dispatcher({"ops": WebhookChannel("ops", make_config(http_receiver.url(), max_per_minute=2))})
    started = time.time()
    outbox.enqueue([new_message(f"evt-1:alert:{n}", address="ops@example.org") for n in (1, 2, 3)]
                   # The cancel is another event's: a cancel of evt-1 would withdraw the held alert instead.
                   + [new_message("evt-0:cancel", kind="cancel", event_id="evt-0", address="ops@example.org"),
                      new_message("evt-1:alert:other", address="desk@example.org")])
    dispatcher.wake("ops")

    assert all(settles(key, "delivered") for key in ("evt-1:alert:1", "evt-1:alert:2", "evt-0:cancel",
                                                     "evt-1:alert:other"))
    assert wait_until(lambda: "delivery.deferred" in audit_actions(audit_log))
    held = outbox.get("evt-1:alert:3")
    assert held is not None and held.status == "pending" and held.attempts == 0
    assert started + 55 < held.next_attempt_at < time.time() + 61
    assert sorted(keys_received(http_receiver)) == ["evt-0:cancel", "evt-1:alert:1", "evt-1:alert:2",
                                                    "evt-1:alert:other"]


def test_drain_waits_until_everything_due_is_settled(
        http_receiver: HttpReceiver, outbox: Outbox, new_message: MessageFactory, start_dispatcher: StartDispatcher,
        make_config: ConfigFactory, tmp_path: Path) -> None:
    """`drain` returns True only once every delivery due has been made, on every lane, even when called right
    after enqueuing, as a worker is claiming (it once missed a delivery claimed while it looked)."""
    dispatcher = start_dispatcher({
        "hook": WebhookChannel("hook", make_config(http_receiver.url(), max_per_minute=1000)),
        "file": FileChannel("file", make_config(f"file://{tmp_path / 'a.jsonl'}", max_per_minute=1000)),
    })
    for round_ in range(20):
        event = f"evt-{round_}"
        outbox.enqueue([new_message(f"{event}:alert:{lane}", lane=lane, event_id=event) for lane in ("hook", "file")])
        dispatcher.wake()
        assert dispatcher.drain(5)
        assert {row.status for row in outbox.list(event_id=event)} == {"delivered"}, f"round {round_}"
    assert len(http_receiver.requests) == 20


def test_drain_is_false_while_a_receiver_hangs(
        http_receiver: HttpReceiver, outbox: Outbox, new_message: MessageFactory, start_dispatcher: StartDispatcher,
        make_config: ConfigFactory) -> None:
    """An attempt still in flight at the deadline: `drain` says so."""
    http_receiver.set_mode("hang")
    dispatcher = start_dispatcher({"ops": WebhookChannel("ops", make_config(http_receiver.url(), timeout_s=10))})
    try:
        outbox.enqueue([new_message("evt-1:alert:ops")])
        dispatcher.wake("ops")
        http_receiver.wait_for(1)
        assert not dispatcher.drain(0.3)
    finally:
        http_receiver.release()
    assert dispatcher.drain(5)
    assert outbox.get("evt-1:alert:ops").status == "delivered"  # type: ignore[union-attr]


def test_an_attempt_given_up_as_hung_is_retried_on_a_new_worker_that_serves_the_lane_meanwhile(
        http_receiver: HttpReceiver, outbox: Outbox, audit_log: AuditLog, new_message: MessageFactory,
        start_dispatcher: StartDispatcher, settles: Settles, make_config: ConfigFactory) -> None:
    """A receiver that takes the request and never answers, with a channel timeout of minutes: once the attempt
    is given up (the watchdog's `restart_lane`), the lane goes on with the next event's alert and the hung one is
    retried on the schedule, while the first request is still held."""
    http_receiver.set_mode("hang")
    dispatcher = start_dispatcher({"ops": WebhookChannel("ops", make_config(http_receiver.url(), timeout_s=300))})
    try:
        outbox.enqueue([new_message("evt-1:alert:ops")])
        dispatcher.wake("ops")
        http_receiver.wait_for(1)
        assert wait_until(lambda: [a.key for a in dispatcher.in_flight()] == ["evt-1:alert:ops"])
        outbox.enqueue([new_message("evt-2:alert:ops", event_id="evt-2")])
        http_receiver.set_mode("ok")  # later requests are answered; the first stays held
        given_up = dispatcher.restart_lane("ops", "no answer for 60 s")
        assert given_up is not None and given_up.key == "evt-1:alert:ops"
        dispatcher.wake("ops")
        assert settles("evt-2:alert:ops", "delivered") and settles("evt-1:alert:ops", "delivered")
        row = outbox.get("evt-1:alert:ops")
        assert row is not None and row.attempts == 2
        assert "delivery.failed_attempt" in audit_actions(audit_log)
        assert keys_received(http_receiver)[0] == "evt-1:alert:ops" and len(http_receiver.requests) == 3
        assert dispatcher.restart_lane("ops", "idle") is None  # nothing in flight: nothing to give up
    finally:
        http_receiver.release()  # the first request is answered only now; its late success changes nothing
    assert settles("evt-1:alert:ops", "delivered")
