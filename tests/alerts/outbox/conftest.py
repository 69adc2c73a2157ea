"""The outbox tests run on both backends (a SQLite file and a real PostgreSQL server on loopback), against
real channels: webhooks to a real HTTP receiver, and a file sink."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from gunwatch.alerts.audit import AuditLog
from gunwatch.alerts.channels.base import Channel
from gunwatch.alerts.message import AlertMessage
from gunwatch.alerts.outbox import NewDelivery, Outbox
from gunwatch.alerts.outbox.dispatcher import Dispatcher
from gunwatch.alerts.outbox.executor import DeliveryExecutor
from gunwatch.config.channels import BaseChannelConfig, RetrySettings
from gunwatch.config.channels import channel_config as site_channel
from gunwatch.events.store import EventStore
from support.http_receiver import http_receiver_fixture  # noqa: F401 - provides `http_receiver`
from support.waiting import seconds_until

# Small waits and short timeouts: a failing receiver is retried within a fraction of a second.
FAST_RETRY = RetrySettings(initial_s=0.05, max_s=0.2, max_attempts=50)
TIMEOUT_S = 0.5


@pytest.fixture
def outbox(store: EventStore) -> Outbox:
    return Outbox(store)


@pytest.fixture
def audit_log(store: EventStore) -> AuditLog:
    return AuditLog(store)


def channel_config(url: str, **settings: Any) -> BaseChannelConfig:
    """A channel that gives up on a silent receiver after TIMEOUT_S and retries quickly (a webhook signs)."""
    fields: dict[str, Any] = {"url": url, "timeout_s": TIMEOUT_S, "retry": FAST_RETRY}
    if url.startswith(("http://", "https://")):
        fields["secret"] = "outbox-test-signing-key"
    return site_channel(**(fields | settings))


@pytest.fixture
def make_config() -> Callable[..., BaseChannelConfig]:
    """`make_config(url, **settings)`: a BaseChannelConfig with fast retries and a short timeout."""
    return channel_config


def message_delivery(key: str, lane: str = "ops", *, kind: str = "alert", event_id: str | None = "evt-1",
                     address: str | None = None, recipient: str | None = "ops", **fields: Any) -> NewDelivery:
    """A message delivery on channel `lane` (a channel's lane is its name), carrying an AlertMessage."""
    message = AlertMessage(key=key, kind=kind, title=f"{kind}: lobby", body="A person with a gun at the lobby.",  # type: ignore[arg-type]
                           camera="lobby", event_id=event_id, recipient=recipient, created_at=1_750_000_000.0)
    return NewDelivery(key=key, kind=kind, action="message", lane=lane, payload=message.to_json(),
                       event_id=event_id, channel=lane, recipient=recipient, address=address, **fields)


@pytest.fixture
def new_message() -> Callable[..., NewDelivery]:
    """`new_message(key, lane="ops", kind="alert", event_id="evt-1", ...)`: a message NewDelivery."""
    return message_delivery


@pytest.fixture
def actions(audit_log: AuditLog) -> Callable[[str], list[str]]:
    """`actions(event_id)`: the actions of the event's audit entries, oldest first."""

    def of(event_id: str) -> list[str]:
        return [entry.action for entry in audit_log.of_event(event_id)]

    return of


@pytest.fixture
def start_dispatcher(outbox: Outbox) -> Iterator[Callable[..., Dispatcher]]:
    """`start_dispatcher(channels)`: a Dispatcher with one worker per channel, stopped (and its channels
    closed) at teardown. Tests holding a request in a hanging receiver release it first."""
    started: list[tuple[Dispatcher, DeliveryExecutor]] = []

    def start(channels: dict[str, Channel], poll_s: float = 0.1) -> Dispatcher:
        executor = DeliveryExecutor(channels)
        dispatcher = Dispatcher(Outbox(outbox.store), executor, poll_s=poll_s)
        started.append((dispatcher, executor))
        return dispatcher.start(list(channels))

    yield start
    for dispatcher, executor in started:
        dispatcher.stop(timeout=5)
        executor.close()


@pytest.fixture
def settles(outbox: Outbox) -> Callable[..., bool]:
    """`settles(key, status)`: whether the delivery reaches `status` (waiting at least MIN_TIMEOUT_S)."""

    def reaches(key: str, status: str, timeout: float = 5.0) -> bool:
        def reached() -> bool:
            delivery = outbox.get(key)
            return delivery is not None and delivery.status == status

        return seconds_until(reached, timeout, poll=0.02) is not None

    return reaches
