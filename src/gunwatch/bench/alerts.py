"""`gunwatch bench alerts`: how soon a threat event's first notification reaches each channel's receiver.

Real parts, as `gunwatch watch` runs them: an AlertService on an event store (a temp SQLite file, or the
PostgreSQL given), one protocol that notifies one recipient on every channel, and the outbox's lane workers.
The far ends are local (`alert_receivers`, `alert_broker`): a webhook (signed), apprise's json://, email
through an SMTP server, MQTT through mosquitto, and the file sink. Without aiosmtpd or mosquitto that
channel is left out, and the table says so.

Each event is saved to the store first (as the pipeline commits the event row before anything else), then
submitted (`AlertService.submit_event`): that moment is "event open". Per channel and event:

    latency = the receiver has the event's first message (time.monotonic, same process) - event open
    outbox  = the delivery's delivered_at in the store (wall clock; written after the receiver answered) - event open

The snapshot JPEG the pipeline writes before it submits is made once beforehand, and attached as usual.
Rate limits are lifted (they hold back the 31st message a minute to one address): this measures latency.
"""

from __future__ import annotations

import math
import tempfile
import time
from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from gunwatch.alerts.service import AlertService
from gunwatch.bench.alert_broker import MqttReceiver, mqtt_unavailable
from gunwatch.bench.alert_receivers import (
    APPRISE_PATH,
    HOOK_PATH,
    Arrival,
    ArrivalLog,
    FileReceiver,
    HttpReceiver,
    SmtpReceiver,
    smtp_unavailable,
)
from gunwatch.config.alerts import AlertSettings
from gunwatch.config.redact import redact_url
from gunwatch.events.model import Evidence, ThreatEvent
from gunwatch.events.store import EventStore

TARGET_S = 0.2  # the target: first notification (any channel) p95 after the event opens
CHANNELS = ("webhook", "apprise", "email", "mqtt", "file")  # the table's rows, in this order
KINDS = {"webhook": "http://, signed", "apprise": "json://", "email": "smtp://", "mqtt": "mqtt://", "file": "file://"}
WEBHOOK_SECRET = "gunwatch-bench-webhook-secret"
TOPIC_PREFIX = "gunwatch-bench"
CAMERA, RECIPIENT, EMAIL_ADDRESS = "bench", "desk", "desk@localhost"
UNLIMITED_PER_MINUTE = 1_000_000
SAMPLE_SNAPSHOT = Path(__file__).resolve().parents[3] / "samples" / "pistol-sample" / "pistol_images" / "1774.jpg"
SNAPSHOT_SIZE = (1280, 720)


@dataclass(frozen=True)
class AlertBenchSettings:
    events: int = 30
    gap_s: float = 0.3  # between submits
    store: str | None = None  # event store URL; None: a SQLite file in a temp folder
    snapshot: bool = True  # attach a 720p snapshot, as the pipeline's events carry one
    wait_s: float = 15.0  # after the last submit, how long deliveries may take to arrive

    def __post_init__(self) -> None:
        if self.events < 1:
            raise ValueError(f"events must be >= 1, got {self.events}")
        if self.gap_s < 0 or self.wait_s <= 0:
            raise ValueError("the gap must be >= 0 s and the wait > 0 s")


@dataclass(frozen=True)
class Spread:
    """Seconds; NaN when there are no values."""

    count: int
    p50: float
    p95: float
    max: float

    @classmethod
    def of(cls, values: list[float]) -> Spread:
        if not values:
            return cls(0, math.nan, math.nan, math.nan)
        return cls(len(values), float(np.percentile(values, 50)), float(np.percentile(values, 95)), max(values))


@dataclass(frozen=True)
class EventSample:
    event_id: str
    opened_at: float  # wall clock of the submit
    arrival_s: dict[str, float]  # channel -> event open to the receiver's first message
    delivered_s: dict[str, float]  # channel -> event open to the outbox's delivered_at
    queued_s: float | None  # event open to its first delivery stored (the protocol run's commit)

    @property
    def first_s(self) -> float | None:
        return min(self.arrival_s.values(), default=None)


@dataclass(frozen=True)
class ChannelRow:
    channel: str
    kind: str
    expected: int
    arrived: Spread  # count: events whose message arrived
    delivered: Spread  # from the outbox
    messages: int  # messages the receiver got (more than expected: a delivery repeated after a failed attempt)
    rejected: int  # messages it could not use (bad signature, no event id)


@dataclass(frozen=True)
class AlertBench:
    settings: AlertBenchSettings
    store: str  # redacted URL, or "sqlite (temp file)"
    channels: list[ChannelRow]
    first: Spread  # first notification, any channel
    queued: Spread
    skipped: dict[str, str]  # channel -> why it has no receiver here
    samples: list[EventSample]

    @property
    def meets_target(self) -> bool:
        return self.first.count == self.settings.events and self.first.p95 <= TARGET_S

    def to_json_dict(self) -> dict[str, object]:
        store = None if self.settings.store is None else redact_url(self.settings.store)
        return {
            "settings": {**asdict(self.settings), "store": store}, "store": self.store,
            "channels": [asdict(row) for row in self.channels], "first_notification_s": asdict(self.first),
            "queued_s": asdict(self.queued), "target_s": TARGET_S, "meets_target": self.meets_target,
            "skipped": self.skipped,
            "samples": [{**asdict(s), "first_s": s.first_s} for s in self.samples],
        }


def start_receivers(stack: ExitStack, log: ArrivalLog, folder: Path) -> tuple[dict[str, str], dict[str, str]]:
    """Each channel's URL (at its started receiver, stopped with `stack`), and the channels left out, with why."""
    http = HttpReceiver(log, WEBHOOK_SECRET).start()
    stack.callback(http.stop)
    urls = {"webhook": http.url(HOOK_PATH), "apprise": http.url(APPRISE_PATH, scheme="json")}
    skipped: dict[str, str] = {}
    if (why := smtp_unavailable()) is None:
        smtp = SmtpReceiver(log).start()
        stack.callback(smtp.stop)
        urls["email"] = smtp.url
    else:
        skipped["email"] = why
    if (why := mqtt_unavailable()) is None:
        try:
            mqtt = MqttReceiver(log, folder, TOPIC_PREFIX).start()
        except (RuntimeError, OSError) as error:  # it stopped what it had started
            skipped["mqtt"] = str(error)
        else:
            stack.callback(mqtt.stop)
            urls["mqtt"] = mqtt.url
    else:
        skipped["mqtt"] = why
    sink = FileReceiver(log, folder / "alerts.jsonl").start()
    stack.callback(sink.stop)
    urls["file"] = sink.url
    return urls, skipped


def bench_alert_settings(urls: dict[str, str]) -> AlertSettings:
    """One protocol: every event notifies the desk on every channel, at once."""
    extra: dict[str, dict[str, Any]] = {"webhook": {"secret": WEBHOOK_SECRET}, "mqtt": {"topic_prefix": TOPIC_PREFIX}}
    channels = {name: {"url": url, "max_per_minute": UNLIMITED_PER_MINUTE, **extra.get(name, {})}
                for name, url in urls.items()}
    addresses = {"email": EMAIL_ADDRESS} if "email" in urls else {}
    return AlertSettings.model_validate({
        "site_name": "bench",
        "channels": channels,
        "recipients": {RECIPIENT: {"name": "Security desk", "addresses": addresses}},
        # cooldown 0: every event is its own incident (the same camera would otherwise merge into the first)
        "protocols": {"bench": {"steps": [{"notify": {"to": [RECIPIENT], "via": list(urls)}}], "cooldown_s": 0}},
    })


def make_snapshot(folder: Path) -> Path:
    """A 720p JPEG like the pipeline's snapshots: the repository's gun sample scaled, else a plain gradient."""
    from PIL import Image

    path = folder / "snapshot.jpg"
    if SAMPLE_SNAPSHOT.is_file():
        image = Image.open(SAMPLE_SNAPSHOT).convert("RGB").resize(SNAPSHOT_SIZE)
    else:
        ramp = np.linspace(0, 255, SNAPSHOT_SIZE[0], dtype=np.uint8)
        image = Image.fromarray(np.repeat(np.tile(ramp, (SNAPSHOT_SIZE[1], 1))[..., None], 3, axis=2))
    image.save(path, format="JPEG", quality=90)
    return path


def submit_events(service: AlertService, store: EventStore, settings: AlertBenchSettings,
                  snapshot: Path | None) -> list[tuple[str, Arrival]]:
    """Each event saved, then submitted, `gap_s` apart; returns (event id, event open)."""
    opened = []
    start = time.monotonic()
    for index in range(settings.events):
        now = time.time()
        event = ThreatEvent(CAMERA, "open", now, now, now, 0.9, (600.0, 300.0, 680.0, 360.0),
                            boxes=[(600.0, 300.0, 680.0, 360.0)],
                            evidence=Evidence(snapshot=str(snapshot) if snapshot else None))
        store.save_event(event)  # the row committed first, as the pipeline does
        at = Arrival.now()
        service.submit_event(event)
        opened.append((event.id, at))
        time.sleep(max(0.0, start + (index + 1) * settings.gap_s - time.monotonic()))
    return opened


def collect(service: AlertService, log: ArrivalLog, channels: list[str],
            opened: list[tuple[str, Arrival]]) -> list[EventSample]:
    samples = []
    for event_id, at in opened:
        arrivals = {name: found.monotonic - at.monotonic for name in channels
                    if (found := log.first(name, event_id)) is not None}
        deliveries = service.outbox.of_event(event_id)
        delivered: dict[str, float] = {}
        for delivery in deliveries:
            if delivery.channel is not None and delivery.delivered_at is not None:
                delay = delivery.delivered_at - at.wall
                delivered[delivery.channel] = min(delay, delivered.get(delivery.channel, delay))
        queued = min((d.created_at - at.wall for d in deliveries), default=None)
        samples.append(EventSample(event_id, at.wall, arrivals, delivered, queued))
    return samples


def run_alert_bench(settings: AlertBenchSettings, progress: Callable[[str], None] = lambda _: None) -> AlertBench:
    with tempfile.TemporaryDirectory(prefix="gunwatch-bench-alerts-") as temp, ExitStack() as stack:
        folder, log = Path(temp), ArrivalLog()
        urls, skipped = start_receivers(stack, log, folder)
        for name, why in skipped.items():
            progress(f"{name}: left out: {why}")
        store = EventStore(settings.store or f"sqlite:///{folder / 'events.db'}")
        stack.callback(store.close)
        service = AlertService(bench_alert_settings(urls), store).start()
        stack.callback(service.close, 5.0)  # before the store closes and the receivers stop (ExitStack: LIFO)
        snapshot = make_snapshot(folder) if settings.snapshot else None
        progress(f"{settings.events} events, one every {settings.gap_s:g} s, to {', '.join(urls)}")
        opened = submit_events(service, store, settings, snapshot)
        if not log.wait_for(list(urls), [event_id for event_id, _ in opened], settings.wait_s):
            progress(f"some messages had not arrived {settings.wait_s:g} s after the last event")
        # A receiver has a message a moment before its worker records it delivered: wait for the records too.
        if not service.dispatcher.drain(settings.wait_s):
            progress(f"some deliveries were not recorded {settings.wait_s:g} s after they arrived")
        samples = collect(service, log, list(urls), opened)
        label = store.url if settings.store else "sqlite (temp file)"
    rows = [
        ChannelRow(name, KINDS[name], settings.events, Spread.of([s.arrival_s[name] for s in samples
                                                                   if name in s.arrival_s]),
                   Spread.of([s.delivered_s[name] for s in samples if name in s.delivered_s]),
                   log.messages(name), log.rejected(name))
        for name in CHANNELS if name in urls
    ]
    first = Spread.of([s.first_s for s in samples if s.first_s is not None])
    queued = Spread.of([s.queued_s for s in samples if s.queued_s is not None])
    return AlertBench(settings, label, rows, first, queued, skipped, samples)

