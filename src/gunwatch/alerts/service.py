"""Alerts inside `gunwatch watch`: threat events and camera health in, protocols run, the outbox delivering.

The pipeline's threads only hand events over (a queue): the alert thread starts and advances protocol runs
and the outbox's lane workers send, so neither a slow database write nor a slow channel ever holds up
the cameras. An event may come first without its snapshot (the evidence disk was slow: its alerts say so) and
again with it: the picture then goes to its alerts (`pictures`).
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass

from gunwatch.alerts.channels.base import Channel
from gunwatch.alerts.channels.registry import ChannelSetupError, open_channels
from gunwatch.alerts.event_actions import EventActions
from gunwatch.alerts.outbox import Outbox
from gunwatch.alerts.outbox.deliveries import CALL_LANE, COMMAND_LANE
from gunwatch.alerts.outbox.dispatcher import Dispatcher
from gunwatch.alerts.outbox.executor import DeliveryExecutor
from gunwatch.alerts.pictures import attach_picture
from gunwatch.alerts.protocols.engine import ACTIVE_STATES, ProtocolEngine
from gunwatch.config.alerts import AlertSettings
from gunwatch.config.errors import ConfigError, ConfigProblem
from gunwatch.events.evidence import picture_to_send
from gunwatch.events.model import ThreatEvent
from gunwatch.events.store import EventStore
from gunwatch.events.store.schema import ProtocolRunRow
from gunwatch.video.health import HealthChange

log = logging.getLogger(__name__)

TICK_S = 0.25  # how often waits (verification, acknowledgement) are checked; also how soon a CLI answer counts
# An event the alert thread could not handle (the database restarting, say) is tried again, first soon,
# then every RETRY_MAX_S, for about ten minutes: an alert is never dropped on a transient error.
HANDLE_ATTEMPTS, RETRY_FIRST_S, RETRY_MAX_S = 25, 0.5, 30.0
OFFLINE_STATES = ("offline", "stalled")
PICTURES_AWAITED = 1024  # events whose alerts went without a snapshot, remembered until it comes


@dataclass(frozen=True)
class DiskLow:
    """The evidence disk went below its floor with nothing left to prune (gunwatch.pipeline.retention_thread)."""

    reason: str
    at: float


@dataclass(frozen=True)
class NewSettings:
    """The alerts section read again (a reload): for runs that start after it, in the order events came."""

    settings: AlertSettings
    channels: dict[str, Channel]  # opened for channels added or changed; replacing those of the same name


Item = ThreatEvent | HealthChange | DiskLow | NewSettings


class AlertService:
    def __init__(self, settings: AlertSettings, store: EventStore, poll_s: float | None = None):
        self.settings, self.store = settings, store
        self.channels = open_channels(settings.channels)
        self.outbox = Outbox(store)
        self.executor = DeliveryExecutor(self.channels, settings)
        self.dispatcher = Dispatcher(self.outbox, self.executor, **({} if poll_s is None else {"poll_s": poll_s}))
        self.engine = ProtocolEngine(settings, store, self.outbox, self.dispatcher.wake)
        self.actions = EventActions(store, self.outbox)
        # Each item with the Event to set once the alert thread has handled it (None: nobody waits).
        self._inbox: queue.Queue[tuple[Item, threading.Event | None]] = queue.Queue()
        self._awaiting_picture: OrderedDict[str, None] = OrderedDict()  # only the alert thread touches it
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="alerts", daemon=True)

    @property
    def lanes(self) -> list[str]:
        return [*self.channels, CALL_LANE, COMMAND_LANE]

    def start(self) -> AlertService:
        self.dispatcher.start(self.lanes)
        self._thread.start()
        return self

    def submit(self, item: Item, handled: threading.Event | None = None) -> None:
        """From any thread: returns at once. `handled` is set once the alert thread has handled the item (its
        protocol runs are in the store); never, when handling keeps failing: a caller that must not lose it
        (a cluster node's forwarder) hands it over again."""
        self._inbox.put((item, handled))

    def submit_event(self, event: ThreatEvent) -> None:
        """From the pipeline's threads: returns at once."""
        self.submit(event)

    def submit_health(self, change: HealthChange) -> None:
        """From a camera's thread: returns at once."""
        self.submit(change)

    def submit_disk_low(self, reason: str) -> None:
        """From the retention thread: returns at once; `on: disk_low` protocols start."""
        self.submit(DiskLow(reason, time.time()))

    def update(self, settings: AlertSettings, file: str) -> None:
        """From any thread (a reload): channels, recipients and protocols change for events handed over from
        now on; runs under way go on by the protocol they started with. A channel added or changed is opened
        here (ConfigError naming it when it cannot be); one removed stays open for what is queued on it. The
        links serve the web server, built once: ConfigError when they changed (a restart applies them)."""
        if settings.links != self.settings.links:
            raise ConfigError([ConfigProblem(file, "cannot change while gunwatch watch runs: restart it to apply "
                                                   "this", "alerts.links")])
        old = self.settings.channels
        changed = {name: config for name, config in settings.channels.items() if old.get(name) != config}
        try:
            opened = open_channels(changed)
        except ChannelSetupError as error:
            raise ConfigError([ConfigProblem(file, str(error), f"alerts.channels.{error.channel}")]) from None
        self.submit(NewSettings(settings, opened))

    def close(self, drain_s: float = 10.0) -> None:
        """Handle what was submitted, deliver what is due (up to `drain_s`), then stop. What is still
        undelivered stays in the outbox and goes out at the next start."""
        self._stop.set()
        self._thread.join(drain_s)
        if not self.dispatcher.drain(drain_s):
            log.warning("alerts: deliveries still pending at exit; they go out at the next start")
        self.dispatcher.stop()
        self.executor.close()

    # --- the alert thread ----------------------------------------------------------------------------

    def _run(self) -> None:
        retries: list[tuple[float, int, Item, threading.Event | None]] = []  # (when, attempt, item, handled)
        while True:
            try:
                item, handled = self._inbox.get(timeout=TICK_S)
                work = [(0, item, handled)]
            except queue.Empty:
                work = []
            now = time.monotonic()
            due, retries = [r for r in retries if r[0] <= now], [r for r in retries if r[0] > now]
            work += [(attempt, retried, handled) for _, attempt, retried, handled in due]
            for attempt, current, handled in work:
                try:
                    self._handle(current)
                except Exception:  # a store outage or a bug: tried again, never dropped while there is hope
                    if attempt + 1 >= HANDLE_ATTEMPTS:
                        log.exception("alerts: gave up on %s after %d attempts", _describe(current), attempt + 1)
                        continue
                    delay = min(RETRY_MAX_S, RETRY_FIRST_S * 2**attempt)
                    log.exception("alerts: failed to handle %s; again in %.1f s", _describe(current), delay)
                    retries.append((now + delay, attempt + 1, current, handled))
                    continue
                if handled is not None:
                    handled.set()
            try:
                self.engine.tick()
            except Exception:
                log.exception("alerts: failed to move protocol runs on; again at the next tick")
            if self._stop.is_set() and self._inbox.empty():
                return

    def _handle(self, item: Item) -> None:
        if isinstance(item, ThreatEvent):
            self.engine.on_event(item)
            self._picture(item)
        elif isinstance(item, HealthChange):
            if item.state in OFFLINE_STATES:
                self.engine.on_camera_offline(item.camera, item.reason, item.at)
            elif item.state == "online":
                self.engine.on_camera_online(item.camera, item.at)
                self._camera_back(item.camera)
        elif isinstance(item, DiskLow):
            self.engine.on_disk_low(item.reason, item.at)
        elif isinstance(item, NewSettings):  # here, on the alert thread: no event is handled half by each
            self.engine.swap(item.settings)
            # New dicts, never edited in place: the lane workers look channels up meanwhile. A channel replaced
            # is left to the collector, not closed: a lane worker may be sending through it now.
            self.channels = {**self.channels, **item.channels}
            self.executor.channels = self.channels
            self.settings = self.executor.settings = item.settings
            self.dispatcher.add_lanes(self.lanes)
            log.info("alerts: %d channels, %d protocols (reloaded)", len(self.channels), len(item.settings.protocols))

    def _picture(self, event: ThreatEvent) -> None:
        """An event handed over without its snapshot is remembered; once it comes, its alerts get it."""
        if event.state not in ("open", "updated"):
            return
        if not picture_to_send(event.evidence):
            self._awaiting_picture[event.id] = None
            self._awaiting_picture.move_to_end(event.id)
            while len(self._awaiting_picture) > PICTURES_AWAITED:
                self._awaiting_picture.popitem(last=False)
        elif event.id in self._awaiting_picture:
            result = attach_picture(self.outbox, event)
            del self._awaiting_picture[event.id]  # after it is done: a store outage tries again
            if result.attached or result.follow_ups:
                log.info("alerts: the snapshot of event %s came late: on %d alerts not yet sent, %d sent after",
                         event.id, result.attached, len(result.follow_ups))
                self.dispatcher.wake()

    def _camera_back(self, camera: str) -> None:
        """A camera back online: its offline protocol stops, and whoever it told gets an all-clear."""
        with self.store.read_session() as session:
            subjects = [row.subject for row in session.query(ProtocolRunRow).filter(
                ProtocolRunRow.camera == camera, ProtocolRunRow.trigger == "camera_offline",
                ProtocolRunRow.state.in_((*ACTIVE_STATES, "done")))]
        for subject in dict.fromkeys(subjects):
            result = self.actions.withdraw_incident(subject, "pipeline", f"camera {camera} is back online")
            if result.withdrawals:
                self.dispatcher.wake()


def _describe(item: Item) -> str:
    if isinstance(item, ThreatEvent):
        return f"event {item.id} ({item.state}) of camera {item.camera}"
    if isinstance(item, DiskLow):
        return "the evidence disk going low"
    if isinstance(item, NewSettings):
        return "the alerts section reloaded"
    return f"camera {item.camera} going {item.state}"
