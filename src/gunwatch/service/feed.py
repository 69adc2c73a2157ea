"""What changed in the store, pushed to every open console: events, dispositions, deliveries, camera health.

    feed = EventFeed(store).start()
    subscription = feed.subscribe(principal)
    item = subscription.get(timeout=15)      # a FeedItem, or None after the timeout
    feed.wake()                              # `gunwatch watch` calls it on each stored event: no poll wait
    feed.stop()

It only reads the store (every `poll_s`, or at once when woken), so `gunwatch serve` on another machine sees
what a `gunwatch watch` elsewhere writes. Each subscriber has a bounded queue: one that stops reading (a
stuck browser) never grows memory; it gets a `resync` item instead and reloads what it shows.

Rows are read with a look-back (`LOOKBACK_S`) and remembered for as long: a transaction that committed late
with an earlier timestamp (another process, another thread) is still seen once, and never twice.
"""

from __future__ import annotations

import logging
import threading
import uuid
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from gunwatch.events.store import EventStore
from gunwatch.events.store.errors import StoreError
from gunwatch.events.store.schema import DeliveryRow, DispositionRow, EventRow, HealthRow, ProtocolRunRow
from gunwatch.users.principal import Principal

log = logging.getLogger(__name__)

FeedKind = Literal["event", "disposition", "delivery", "health", "resync"]
POLL_S = 0.2
LOOKBACK_S = 10.0  # how late a commit may land behind its own timestamp and still be seen
HEALTH_LOOKBACK_IDS = 1000  # the same for health rows, which are read by id
QUEUE_SIZE = 256
REPLAY_SIZE = 1024  # items kept for clients reconnecting with Last-Event-ID
MAX_ROWS = 500  # per kind and poll: a burst beyond it is a resync, not an unbounded read


@dataclass(frozen=True)
class FeedItem:
    """One change. `id` is `FEED-SEQ`: SEQ counts up within one feed, FEED changes when the process restarts
    (a client reconnecting with an id of another feed resyncs). `state`: the event's state, the disposition,
    the delivery's status or the camera's health. `camera` None: not known (such items go to principals who
    see every camera only)."""

    id: str
    seq: int
    kind: FeedKind
    camera: str | None
    event_id: str | None = None
    state: str | None = None
    key: str | None = None  # a delivery's key
    channel: str | None = None
    at: float | None = None


class Subscription:
    """One subscriber's queue. `get` blocks (a thread); an async reader passes `notify` to `EventFeed.subscribe`
    (called from the feed's thread whenever an item is queued) and drains with `get_nowait`."""

    def __init__(self, feed: EventFeed, principal: Principal, size: int, notify: Callable[[], None] | None):
        self.principal, self._feed, self._size, self._notify = principal, feed, size, notify
        self._items: deque[FeedItem] = deque()
        self._ready = threading.Condition()
        self.closed = False

    def get(self, timeout: float | None = None) -> FeedItem | None:
        with self._ready:
            self._ready.wait_for(lambda: self._items or self.closed, timeout)
            return self._items.popleft() if self._items else None

    def get_nowait(self) -> FeedItem | None:
        with self._ready:
            return self._items.popleft() if self._items else None

    def drain(self) -> list[FeedItem]:
        with self._ready:
            items, self._items = list(self._items), deque()
            return items

    def close(self) -> None:
        """No more items; a reader waiting in `get` (or on `notify`) wakes up and sees `closed`."""
        self._feed._unsubscribe(self)
        with self._ready:
            if self.closed:
                return
            self.closed = True
            self._ready.notify_all()
        if self._notify is not None:
            self._notify()

    def __enter__(self) -> Subscription:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def _put(self, item: FeedItem) -> None:
        with self._ready:
            if len(self._items) >= self._size:
                # Too far behind: whatever it missed, it reloads. Only the resync is kept, so memory stays bounded.
                self._items.clear()
                item = self._feed._resync_item(item.seq)
            self._items.append(item)
            self._ready.notify_all()
        if self._notify is not None:
            self._notify()


class EventFeed:
    def __init__(self, store: EventStore, poll_s: float = POLL_S, queue_size: int = QUEUE_SIZE):
        self.store, self.poll_s, self.queue_size = store, poll_s, queue_size
        self.feed_id = uuid.uuid4().hex[:8]
        self.polls = 0  # polls done: tests and health checks wait on it
        self._seq = 0
        self._lock = threading.Lock()
        self._polled = threading.Condition(self._lock)
        self._subscribers: list[Subscription] = []
        self._replay: deque[FeedItem] = deque(maxlen=REPLAY_SIZE)
        self._wake, self._stop = threading.Event(), threading.Event()
        self._thread: threading.Thread | None = None
        self._failing = False
        self._marks: dict[str, float | int] = {}
        self._seen: dict[tuple[str, Any], float | int] = {}  # (kind, row identity) -> its mark, for the look-back

    @property
    def seq(self) -> int:
        return self._seq

    def start(self) -> EventFeed:
        if self._thread is not None:
            raise RuntimeError("the event feed was already started")
        self._start_marks()
        self._thread = threading.Thread(target=self._run, name="event-feed", daemon=True)
        self._thread.start()
        return self

    def wake(self) -> None:
        """Poll now: something was just stored."""
        self._wake.set()

    def stop(self, timeout: float = 5.0) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout)
        for subscription in list(self._subscribers):
            subscription.close()

    def subscribe(self, principal: Principal, last_id: str | None = None, notify: Callable[[], None] | None = None,
                  queue_size: int | None = None) -> Subscription:
        """A new subscriber of the changes `principal` may see. `last_id`: the last item a reconnecting client
        had (SSE's Last-Event-ID): what it missed is queued at once, or a resync when that is no longer known."""
        subscription = Subscription(self, principal, queue_size or self.queue_size, notify)
        with self._lock:
            self._subscribers.append(subscription)
            if last_id is not None:
                missed = self._missed_since(last_id)
                for item in [self._resync_item(self._seq)] if missed is None else missed:
                    if _visible(principal, item):
                        subscription._put(item)
        return subscription

    def wait_polled(self, polls: int, timeout: float) -> bool:
        """Whether `polls` polls were done within `timeout` (tests: a change stored before poll N is seen)."""
        with self._polled:
            return self._polled.wait_for(lambda: self.polls >= polls, timeout)

    def poll(self) -> list[FeedItem]:
        """Read what changed since the last poll and hand it to the subscribers (the feed's thread calls it)."""
        try:
            with self.store.errors("cannot read changes from"), self.store.read_session() as session:
                changes, overflow = self._changes(session)
        except StoreError as error:
            if not self._failing:  # once, not every poll: the store may be down for minutes
                log.warning("event feed: %s; trying again every %g s", error, self.poll_s)
            self._failing = True
            changes, overflow = [], False
        else:
            if self._failing:
                log.info("event feed: the store answers again")
                # What changed meanwhile beyond the look-back may be missing: everyone reloads.
                overflow = True
            self._failing = False
        with self._lock:
            items = [self._item(**change) for change in changes]
            if overflow:
                items.append(self._resync_item(self._next_seq()))
            for item in items:
                self._replay.append(item)
                for subscription in self._subscribers:
                    if _visible(subscription.principal, item):
                        subscription._put(item)
            self.polls += 1
            self._polled.notify_all()
        return items

    # --- the feed's thread -------------------------------------------------------------------------

    def _run(self) -> None:
        while not self._stop.is_set():
            self._wake.wait(self.poll_s)
            self._wake.clear()
            if self._stop.is_set():
                break
            try:
                self.poll()
            except Exception:  # the feed must outlive a bad row: the console would go silent
                log.exception("event feed: poll failed")

    def _start_marks(self) -> None:
        """Start from now: a new subscriber loads the current state itself, the feed brings what follows. The
        rows within the look-back are remembered as seen, so the first poll does not bring them again."""
        with self.store.errors("cannot read changes from"), self.store.read_session() as session:
            for kind, column in _TIME_COLUMNS.items():
                self._marks[kind] = session.scalar(select(func.max(column))) or 0.0
            self._marks["health"] = session.scalar(select(func.max(HealthRow.id))) or 0
            self._changes(session)

    def _changes(self, session: Session) -> tuple[list[dict[str, Any]], bool]:
        """What changed since the marks, oldest first; and whether more changed than one read holds (then
        some may be missing, and the subscribers resync)."""
        changes: list[dict[str, Any]] = []
        overflow = False
        for kind, read in _READERS.items():
            since = self._marks[kind] - (HEALTH_LOOKBACK_IDS if kind == "health" else LOOKBACK_S)
            rows = read(session, since)  # newest first, at most MAX_ROWS
            if len(rows) >= MAX_ROWS and self._seen.get((kind, rows[-1][0])) != rows[-1][1]:
                overflow = True  # the oldest row read is new: older ones beyond the limit may be new too
            for identity, row_mark, change in reversed(rows):
                if self._seen.get((kind, identity)) == row_mark:
                    continue
                self._seen[(kind, identity)] = row_mark
                self._marks[kind] = max(self._marks[kind], row_mark)
                changes.append({"kind": kind, **change})
        self._forget()
        return changes, overflow

    def _forget(self) -> None:
        """Drop what fell behind the look-back: it is never read again."""
        for key, row_mark in list(self._seen.items()):
            kind = key[0]
            if row_mark < self._marks[kind] - (HEALTH_LOOKBACK_IDS if kind == "health" else LOOKBACK_S):
                del self._seen[key]

    # --- items ------------------------------------------------------------------------------------

    def _next_seq(self) -> int:
        self._seq += 1
        return self._seq

    def _item(self, kind: FeedKind, **fields: Any) -> FeedItem:
        seq = self._next_seq()
        return FeedItem(f"{self.feed_id}-{seq}", seq, kind, **fields)

    def _resync_item(self, seq: int) -> FeedItem:
        return FeedItem(f"{self.feed_id}-{seq}", seq, "resync", None)

    def _missed_since(self, last_id: str) -> list[FeedItem] | None:
        feed, _, seq = last_id.partition("-")
        if feed != self.feed_id or not seq.isdigit():
            return None
        after = int(seq)
        if after > self._seq or (after < self._seq and (not self._replay or self._replay[0].seq > after + 1)):
            return None  # from the future, or older than what is kept
        return [item for item in self._replay if item.seq > after]

    def _unsubscribe(self, subscription: Subscription) -> None:
        with self._lock:
            if subscription in self._subscribers:
                self._subscribers.remove(subscription)


def _visible(principal: Principal, item: FeedItem) -> bool:
    if item.kind == "resync":
        return True
    if item.kind == "health" and not principal.may("cameras:read"):
        return False
    if item.kind != "health" and not principal.may("events:read"):
        return False
    return principal.cameras is None or (item.camera is not None and principal.sees(item.camera))


# --- reading each kind of change, newest first: (row identity, its mark, the item's fields) ----------------

Row = tuple[Any, float | int, dict[str, Any]]


def _events(session: Session, since: float) -> list[Row]:
    query = (select(EventRow.id, EventRow.camera, EventRow.state, EventRow.updated_at)
             .where(EventRow.updated_at > since).order_by(EventRow.updated_at.desc()).limit(MAX_ROWS))
    return [(event_id, at, {"event_id": event_id, "camera": camera, "state": state, "at": at})
            for event_id, camera, state, at in session.execute(query)]


def _dispositions(session: Session, since: float) -> list[Row]:
    query = (select(DispositionRow.event_id, DispositionRow.disposition, DispositionRow.at, EventRow.camera,
                    _run_camera(DispositionRow.event_id))
             .outerjoin(EventRow, EventRow.id == DispositionRow.event_id)
             .where(DispositionRow.at > since).order_by(DispositionRow.at.desc()).limit(MAX_ROWS))
    return [(event_id, at, {"event_id": event_id, "camera": camera or run_camera, "state": word, "at": at})
            for event_id, word, at, camera, run_camera in session.execute(query)]


def _deliveries(session: Session, since: float) -> list[Row]:
    query = (select(DeliveryRow.id, DeliveryRow.key, DeliveryRow.event_id, DeliveryRow.status, DeliveryRow.channel,
                    DeliveryRow.lane, DeliveryRow.updated_at, EventRow.camera, _run_camera(DeliveryRow.event_id))
             .outerjoin(EventRow, EventRow.id == DeliveryRow.event_id)
             .where(DeliveryRow.updated_at > since).order_by(DeliveryRow.updated_at.desc()).limit(MAX_ROWS))
    return [(row_id, at, {"event_id": event_id, "camera": camera or run_camera, "state": status, "key": key,
                          "channel": channel or lane, "at": at})
            for row_id, key, event_id, status, channel, lane, at, camera, run_camera in session.execute(query)]


def _health(session: Session, since: float) -> list[Row]:
    query = (select(HealthRow.id, HealthRow.camera, HealthRow.state, HealthRow.at)
             .where(HealthRow.id > since).order_by(HealthRow.id.desc()).limit(MAX_ROWS))
    return [(row_id, row_id, {"camera": camera, "state": state, "at": at})
            for row_id, camera, state, at in session.execute(query)]


def _run_camera(event_id: Any) -> Any:
    """A camera-offline incident has no event row: its camera is its protocol run's."""
    return (select(ProtocolRunRow.camera).where(ProtocolRunRow.event_id == event_id)
            .limit(1).correlate_except(ProtocolRunRow).scalar_subquery())


_TIME_COLUMNS = {"event": EventRow.updated_at, "disposition": DispositionRow.at, "delivery": DeliveryRow.updated_at}
_READERS: dict[str, Callable[[Session, Any], list[Row]]] = {
    "event": _events, "disposition": _dispositions, "delivery": _deliveries, "health": _health}

