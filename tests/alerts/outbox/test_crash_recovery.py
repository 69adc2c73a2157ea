"""`kill -9` of a delivering process: a child process runs a Dispatcher on the same store, is killed with
SIGKILL mid-delivery, and a new Dispatcher (here, in the test process) takes over what it left behind."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from gunwatch.alerts.audit import AuditLog
from gunwatch.alerts.channels.webhook import WebhookChannel
from gunwatch.alerts.outbox import NewDelivery, Outbox
from gunwatch.alerts.outbox.dispatcher import Dispatcher
from gunwatch.config.channels import BaseChannelConfig
from support.http_receiver import HttpReceiver
from support.waiting import wait_until

MessageFactory = Callable[..., NewDelivery]
StartDispatcher = Callable[..., Dispatcher]
Settles = Callable[..., bool]
ConfigFactory = Callable[..., BaseChannelConfig]
StartService = Callable[[], subprocess.Popen[str]]

# The service: delivers the webhook lane `ops` until it is killed. A long timeout keeps an attempt to a
# hanging receiver in flight (`sending`) for as long as the test needs.
SERVICE = '''
import sys
import time

from gunwatch.alerts.channels.webhook import WebhookChannel
from gunwatch.alerts.outbox import Outbox
from gunwatch.alerts.outbox.dispatcher import Dispatcher
from gunwatch.alerts.outbox.executor import DeliveryExecutor
from gunwatch.config.channels import RetrySettings, channel_config
from gunwatch.events.store import EventStore

store_url, hook_url = sys.argv[1:3]
config = channel_config(url=hook_url, secret="crash-test-signing-key", timeout_s=30, max_per_minute=1000,
                        retry=RetrySettings(initial_s=0.05, max_s=0.2, max_attempts=50))
executor = DeliveryExecutor({"ops": WebhookChannel("ops", config)})
Dispatcher(Outbox(EventStore(store_url)), executor, poll_s=0.05).start(["ops"])
print("delivering", flush=True)
time.sleep(120)
'''


@pytest.fixture
def service(store_url: str, http_receiver: HttpReceiver, tmp_path: Path) -> Iterator[StartService]:
    """`service()`: the delivering child process, started with this Python on the test's store; killed at
    teardown if a test left it running."""
    script = tmp_path / "service.py"
    script.write_text(SERVICE)
    children: list[subprocess.Popen[str]] = []

    def start() -> subprocess.Popen[str]:
        log = (tmp_path / "service.log").open("w")
        child = subprocess.Popen([sys.executable, str(script), store_url, http_receiver.url()], stdout=log,
                                 stderr=subprocess.STDOUT, text=True)
        log.close()
        children.append(child)
        return child

    yield start
    for child in children:
        if child.poll() is None:
            child.kill()
            child.wait(10)


def kill_9(child: subprocess.Popen[str]) -> None:
    """SIGKILL, then reap it: a dead child not yet waited for is a zombie and still looks alive."""
    os.kill(child.pid, signal.SIGKILL)
    assert child.wait(10) == -signal.SIGKILL


def service_log(tmp_path: Path) -> str:
    return (tmp_path / "service.log").read_text()


def keys_received(receiver: HttpReceiver) -> list[str]:
    return [request.headers.get("x-gunwatch-key", "") for request in receiver.requests]


def recovered_keys(audit_log: AuditLog, event_id: str = "evt-1") -> list[str]:
    return [str(entry.detail["key"]) for entry in audit_log.of_event(event_id) if entry.action == "delivery.recovered"]


def test_a_delivery_in_flight_at_kill_9_is_sent_again(
        service: StartService, http_receiver: HttpReceiver, outbox: Outbox,
        audit_log: AuditLog, new_message: MessageFactory, start_dispatcher: StartDispatcher, settles: Settles,
        make_config: ConfigFactory, tmp_path: Path) -> None:
    """Killed while waiting for the receiver's answer, the service leaves the delivery `sending`; the next
    dispatcher's start recovers it at once (its claimer is dead) and delivers it, with the same key."""
    http_receiver.set_mode("hang")
    outbox.enqueue([new_message("evt-1:alert:ops")])
    child = service()
    assert settles("evt-1:alert:ops", "sending", timeout=20), service_log(tmp_path)
    http_receiver.wait_for(1, timeout=10)
    kill_9(child)

    row = outbox.get("evt-1:alert:ops")
    assert row is not None and row.status == "sending" and row.attempts == 1
    http_receiver.set_mode("ok")
    http_receiver.release()  # the held request's client is gone: nobody hears this answer
    start_dispatcher({"ops": WebhookChannel("ops", make_config(http_receiver.url()))})

    assert settles("evt-1:alert:ops", "delivered")
    assert outbox.get("evt-1:alert:ops").attempts == 2  # type: ignore[union-attr]
    assert keys_received(http_receiver) == ["evt-1:alert:ops", "evt-1:alert:ops"]  # at least once: here twice
    [recovered] = [entry for entry in audit_log.of_event("evt-1") if entry.action == "delivery.recovered"]
    assert recovered.detail["claimed_by"] == f"{outbox.worker.rpartition(':')[0]}:{child.pid}"


def test_every_delivery_arrives_after_a_kill_9_midway(
        service: StartService, http_receiver: HttpReceiver, outbox: Outbox,
        audit_log: AuditLog, new_message: MessageFactory, start_dispatcher: StartDispatcher,
        make_config: ConfigFactory, tmp_path: Path) -> None:
    """30 deliveries to a slow receiver, the service killed a third of the way through: after a restart every
    key has arrived, none is left pending or sending, and only the one in flight at the kill arrived twice."""
    keys = [f"evt-1:alert:{number:02d}" for number in range(30)]
    http_receiver.set_delay(0.05)
    outbox.enqueue([new_message(key) for key in keys])
    child = service()

    def delivered() -> int:
        return len(outbox.list(status="delivered"))

    assert wait_until(lambda: delivered() >= 10, timeout=30), service_log(tmp_path)
    kill_9(child)
    at_kill = outbox.list()
    in_flight = {row.key for row in at_kill if row.status == "sending"}
    assert len(in_flight) <= 1 and sum(row.status == "pending" for row in at_kill) >= 10  # really midway

    http_receiver.set_delay(0)
    start_dispatcher({"ops": WebhookChannel("ops", make_config(http_receiver.url(), max_per_minute=1000))})
    assert wait_until(lambda: delivered() == len(keys), timeout=15)

    received = keys_received(http_receiver)
    assert set(received) == set(keys)
    assert {key for key in received if received.count(key) > 1} <= in_flight
    assert {row.status for row in outbox.list()} == {"delivered"}
    assert set(recovered_keys(audit_log)) == in_flight


def test_an_alert_withdrawn_while_the_service_was_down_is_not_sent_again(
        service: StartService, http_receiver: HttpReceiver, store_url: str, outbox: Outbox,
        new_message: MessageFactory, start_dispatcher: StartDispatcher, settles: Settles,
        make_config: ConfigFactory, tmp_path: Path) -> None:
    """A false alarm called while the service is dead, its alert in flight: on restart the cancel goes out and
    the alert does not (re-sent, it would arrive after its cancel)."""
    http_receiver.set_mode("hang")
    outbox.enqueue([new_message("evt-1:alert:ops")])
    child = service()
    assert settles("evt-1:alert:ops", "sending", timeout=20), service_log(tmp_path)
    http_receiver.wait_for(1, timeout=10)
    kill_9(child)

    with outbox.store.write_session.begin() as session:  # `gunwatch event false-alarm evt-1`
        assert [d.key for d in outbox.withdraw(session, "evt-1")] == ["evt-1:alert:ops"]
        outbox.enqueue([new_message("evt-1:cancel:ops", kind="cancel")], session=session)
    http_receiver.set_mode("ok")
    http_receiver.release()
    start_dispatcher({"ops": WebhookChannel("ops", make_config(http_receiver.url()))})

    assert settles("evt-1:cancel:ops", "delivered")
    assert settles("evt-1:alert:ops", "cancelled", timeout=0.5)
    assert keys_received(http_receiver) == ["evt-1:alert:ops", "evt-1:cancel:ops"]
