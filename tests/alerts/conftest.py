"""Shared fixtures of the alert tests: a store on both backends (a SQLite file and a real PostgreSQL server on
loopback), threat events, real receivers (HTTP, SMTP, MQTT) and a running AlertService.

Deliveries are checked where they arrive: nothing is mocked. Channels time out quickly and retry within a
fraction of a second, so a failing receiver costs little time.
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable, Iterator
from io import BytesIO
from pathlib import Path
from typing import Any

import pytest
from PIL import Image, ImageDraw
from sqlalchemy import select

from gunwatch.alerts.audit import AuditEntry, AuditLog
from gunwatch.alerts.outbox import Delivery
from gunwatch.alerts.service import AlertService
from gunwatch.config.alerts import AlertSettings
from gunwatch.events.model import Evidence, ThreatEvent
from gunwatch.events.store import EventStore
from gunwatch.events.store.schema import ProtocolRunRow
from support.http_receiver import HttpReceiver, http_receiver_fixture  # noqa: F401 - provides `http_receiver`
from support.mosquitto import mosquitto_broker  # noqa: F401 - the session's broker
from support.smtp_server import smtp_server_fixture  # noqa: F401 - provides `smtp_server`
from support.waiting import wait_until

# A receiver that does not answer fails within a second; a failed send is retried within 0.05-0.2 s.
FAST_RETRY: dict[str, Any] = {"initial_s": 0.05, "max_s": 0.2, "max_attempts": 50}
CHANNEL_TIMEOUT_S = 1.0
WEBHOOK_TEST_SECRET = "alerts-test-signing-key"  # webhooks must sign (or say signed: false)
POLL_S = 0.1

_names = itertools.count()


@pytest.fixture
def name() -> Callable[[str], str]:
    """`name("lobby")` -> "lobby7": a camera or MQTT topic prefix no other test uses (the session's broker
    keeps retained messages from test to test)."""
    return lambda prefix: f"{prefix}{next(_names)}"


def new_event(**changes: Any) -> ThreatEvent:
    """A threat event just opened on `lobby` (times are now: schedules and cool-downs use the clock)."""
    now = time.time()
    fields: dict[str, Any] = {
        "camera": "lobby",
        "state": "open",
        "first_seen": now - 0.5,
        "confirmed_at": now,
        "last_seen": now,
        "max_score": 0.81,
        "best_box": (10.5, 20.0, 60.25, 90.0),
        "boxes": [(10.5, 20.0, 60.25, 90.0)],
        "zone": "door",
        "track_id": 7,
    }
    return ThreatEvent(**(fields | changes))


@pytest.fixture
def make_event() -> Callable[..., ThreatEvent]:
    """`make_event(**changes)`: a ThreatEvent opened now on camera `lobby`, zone `door`, score 0.81."""
    return new_event


@pytest.fixture
def snapshot(tmp_path: Path) -> Path:
    """A small real JPEG, as the evidence writer leaves it."""
    buffer = BytesIO()
    Image.new("RGB", (64, 48), (200, 30, 30)).save(buffer, format="JPEG")
    path = tmp_path / "snapshot.jpg"
    path.write_bytes(buffer.getvalue())
    return path


@pytest.fixture
def annotated(tmp_path: Path) -> Path:
    """The same frame with the box that fired drawn, as the evidence writer leaves it beside `snapshot`: the
    picture every channel carries (other bytes than the clean one, so a test can tell which arrived)."""
    picture = Image.new("RGB", (64, 48), (200, 30, 30))
    ImageDraw.Draw(picture).rectangle((10, 10, 40, 30), outline=(230, 230, 30), width=2)
    path = tmp_path / "snapshot_annotated.jpg"
    picture.save(path, format="JPEG")
    return path


@pytest.fixture
def event_with_snapshot(snapshot: Path, annotated: Path) -> Callable[..., ThreatEvent]:
    """`event_with_snapshot(**changes)`: an event whose best frame is written, clean and annotated."""

    def make(**changes: Any) -> ThreatEvent:
        return new_event(evidence=Evidence(snapshot=str(snapshot), annotated=str(annotated)), **changes)

    return make


@pytest.fixture
def channel() -> Callable[..., dict[str, Any]]:
    """`channel(url, **settings)`: a channel's settings (as in the site file), timing out after a second and
    retrying within 0.05-0.2 s; a webhook signs with WEBHOOK_TEST_SECRET unless given another secret."""

    def settings(url: str, **changes: Any) -> dict[str, Any]:
        signing = {"secret": WEBHOOK_TEST_SECRET} if url.startswith(("http://", "https://")) else {}
        return {"url": url, "timeout_s": CHANNEL_TIMEOUT_S, "retry": FAST_RETRY} | signing | changes

    return settings


@pytest.fixture
def start_service(store: EventStore) -> Iterator[Callable[..., AlertService]]:
    """`start_service(settings)` (a dict as in the site file, or AlertSettings): a started AlertService on
    `store`, polling every 0.1 s; closed at teardown (tests may close it earlier themselves)."""
    started: list[AlertService] = []

    def start(settings: dict[str, Any] | AlertSettings) -> AlertService:
        if not isinstance(settings, AlertSettings):
            settings = AlertSettings.model_validate(settings)
        service = AlertService(settings, store, poll_s=POLL_S)
        started.append(service)
        return service.start()

    yield start
    for service in started:
        service.close(drain_s=0.5)


@pytest.fixture
def more_receivers() -> Iterator[Callable[[], HttpReceiver]]:
    """`more_receivers()`: another started HttpReceiver, for a test that needs one failing and one working."""
    receivers: list[HttpReceiver] = []

    def make() -> HttpReceiver:
        receivers.append(HttpReceiver().start())
        return receivers[-1]

    yield make
    for receiver in receivers:
        receiver.stop()


@pytest.fixture
def audit(store: EventStore) -> Callable[[str], list[AuditEntry]]:
    """`audit(event_id)`: the event's audit entries, oldest first (what `gunwatch event show` prints)."""
    return AuditLog(store).of_event


@pytest.fixture
def audit_actions(audit: Callable[[str], list[AuditEntry]]) -> Callable[[str], list[str]]:
    """`audit_actions(event_id)`: the actions of the event's audit entries, oldest first."""

    def of(event_id: str) -> list[str]:
        return [entry.action for entry in audit(event_id)]

    return of


@pytest.fixture
def runs(store: EventStore) -> Callable[..., list[ProtocolRunRow]]:
    """`runs(event_id=None)`: the protocol runs (of one event), oldest first."""

    def read(event_id: str | None = None) -> list[ProtocolRunRow]:
        query = select(ProtocolRunRow).order_by(ProtocolRunRow.id)
        if event_id is not None:
            query = query.where(ProtocolRunRow.event_id == event_id)
        with store.read_session() as session:
            rows = session.scalars(query).all()
            session.expunge_all()
            return list(rows)

    return read


@pytest.fixture
def wait_for_deliveries(store: EventStore) -> Callable[..., list[Delivery]]:
    """`wait_for_deliveries(service, event_id, where, count=1)`: the event's deliveries for which `where(delivery)`
    holds, once there are at least `count` (waiting at least MIN_TIMEOUT_S); AssertionError listing them all
    otherwise."""

    def wait(service: AlertService, event_id: str, where: Callable[[Delivery], bool], count: int = 1,
             timeout: float = 5.0) -> list[Delivery]:
        def matching() -> list[Delivery]:
            return [d for d in service.outbox.of_event(event_id) if where(d)]

        if not wait_until(lambda: len(matching()) >= count, timeout):
            shown = "\n".join(f"  {d.key} {d.kind} {d.status} attempts={d.attempts} error={d.last_error}"
                              for d in service.outbox.of_event(event_id))
            raise AssertionError(f"fewer than {count} matching deliveries:\n{shown}")
        return matching()

    return wait
