"""The live pipeline's store writes, on one thread of their own: event versions, evidence files, camera health.

Events are values. This writer keeps the newest version it wrote of each recent event and merges into it what
comes later: a new version from a camera's confirmer (state, score) keeps the files already recorded, and files
written later (a snapshot, a clip) are added to the newest version, never to an older one, so a clip that
finishes after its event closed does not reopen it. One queue, one thread: an event's changes are committed
in the order its camera made them, and a store that hangs holds up only this thread.

`on_event` hears each version as soon as it is stored (also when the store failed: logged). A store that is
down (`StoreUnavailable`: PostgreSQL restarting, SQLite locked or out of disk) is waited out: the write is
tried again, with a growing pause, and everything after it stays queued in order (up to `capacity`), so what
happened while it was down lands once it is back. Going down and coming back are logged once each.
"""

from __future__ import annotations

import dataclasses
import logging
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

from gunwatch.events.model import Evidence, ThreatEvent
from gunwatch.events.store import EventStore, StoreUnavailable
from gunwatch.events.store.fencing import HeldLease, LeaseLost
from gunwatch.pipeline.write_queue import WriteQueue, WriterStats, guarded
from gunwatch.video.health import HealthChange

log = logging.getLogger(__name__)
EventListener = Callable[[ThreatEvent], None]
LeaseOf = Callable[[str], HeldLease | None]  # a camera's lease held here (cluster mode), None when it is not
RETRY_FIRST_S, RETRY_MAX_S = 0.2, 5.0  # a store that is down is tried again after this, doubling up to the max
CAPACITY = 10_000  # event versions and health changes are small; a store down for long loses the newest ones
REMEMBERED = 1024  # recent events whose newest version is kept to merge later files into


@dataclass(frozen=True)
class _Version:
    event: ThreatEvent  # a new version from the confirmer


@dataclass(frozen=True)
class _Files:
    event: ThreatEvent  # the version the files were made for (stored as is if the writer forgot the event)
    files: Evidence
    notify: bool


@dataclass(frozen=True)
class _Camera:
    name: str
    url: str
    kind: str


_Write = _Version | _Files | _Camera | HealthChange


class StoreWriter:
    def __init__(self, store: EventStore | None, on_event: EventListener | None = None, capacity: int = CAPACITY):
        self.store, self.on_event = store, on_event
        self._queue: WriteQueue[_Write] = WriteQueue("store writer", self._write, capacity)
        self._newest: OrderedDict[str, ThreatEvent] = OrderedDict()  # only the writer's thread touches it
        self._closing = threading.Event()  # at close, a store still down gets one more try per write, no wait
        self._down_since: float | None = None  # the store unavailable since (monotonic); only the writer's thread
        # Cluster mode: a camera's event versions and health are written only under its lease (`fencing`); what a
        # camera's lost lease refuses is dropped, unheard: its new holder carries the event on. Set before the
        # first camera starts; called on the writer's thread, so it must not wait for the caller's locks.
        self.lease_of: LeaseOf | None = None

    def start(self) -> StoreWriter:
        self._queue.start()
        return self

    def event_changed(self, event: ThreatEvent) -> bool:
        return self._queue.put(_Version(event))

    def files_written(self, event: ThreatEvent, files: Evidence, notify: bool) -> bool:
        """Files of `event` (a snapshot, a clip); `notify`: `on_event` hears the version that names them."""
        return self._queue.put(_Files(event, files, notify))

    def camera_added(self, name: str, url: str, kind: str) -> bool:
        return self._queue.put(_Camera(name, url, kind))

    def camera_health(self, change: HealthChange) -> bool:
        return self._queue.put(change)

    def stats(self) -> WriterStats:
        return self._queue.stats()

    def wait_idle(self, timeout: float | None = None) -> bool:
        return self._queue.wait_idle(timeout)

    @property
    def store_down(self) -> bool:
        """Whether the last write found the store unavailable (it is being tried again)."""
        return self._down_since is not None

    def close(self, timeout: float | None = None) -> bool:
        self._closing.set()
        return self._queue.close(timeout)

    def _write(self, item: _Write) -> None:
        if isinstance(item, _Camera):
            if self.store is not None:
                self._stored(self.store.upsert_camera, item.name, item.url, item.kind)
        elif isinstance(item, HealthChange):
            if self.store is not None:
                self._stored(self.store.record_health, item.camera, item.state, item.reason, item.at,
                             camera=item.camera)
        elif isinstance(item, _Version):
            self._save(self._merged(item.event, None), notify=True)
        else:
            self._save(self._merged(item.event, item.files), notify=item.notify)

    def _merged(self, event: ThreatEvent, files: Evidence | None) -> ThreatEvent:
        known = self._newest.pop(event.id, None)
        if files is None:  # a newer version: it keeps the files recorded so far
            evidence = event.evidence if known is None else known.evidence.merged(event.evidence)
            newest = dataclasses.replace(event, evidence=evidence)
        else:  # files: onto the newest version
            base = known or event
            newest = dataclasses.replace(base, evidence=base.evidence.merged(files))
        self._newest[event.id] = newest
        if len(self._newest) > REMEMBERED:
            self._newest.popitem(last=False)
        return newest

    def _save(self, event: ThreatEvent, notify: bool) -> None:
        if self.store is not None and not self._stored(self.store.save_event, event, camera=event.camera):
            return  # fenced out: the camera's new holder stores and tells its event from now on
        if notify and self.on_event is not None:
            guarded(self.on_event, event)

    def _stored(self, write: Callable[..., None], *args: object, camera: str | None = None) -> bool:
        """`write(*args)`, tried again while the store is unavailable (until close); any other failure is
        logged and the write dropped, as retrying it could not help. With `lease_of`, a write of `camera` is
        fenced by its lease: False when that lease is no longer held here (the write dropped)."""
        pause = RETRY_FIRST_S
        while True:
            fence = None
            if self.lease_of is not None and camera is not None:
                fence = self.lease_of(camera)
                if fence is None:
                    log.warning("store writer: camera %s is no longer watched here under a lease; a %s dropped",
                                camera, _what(write), extra={"camera": camera})
                    return False
            try:
                write(*args, **({} if fence is None else {"fence": fence}))
            except LeaseLost as error:
                log.warning("store writer: a %s dropped: %s", _what(write), error, extra={"camera": camera})
                return False
            except StoreUnavailable as error:
                if self._down_since is None:
                    self._down_since = time.monotonic()
                    log.error("store writer: the store is unavailable (%s); writes are kept and tried again", error)
                if self._closing.is_set():
                    log.error("store writer: closing with the store unavailable; a write is lost: %s", error)
                    return True  # lost, not fenced out: what hears the event still does
                self._closing.wait(pause)
                pause = min(2 * pause, RETRY_MAX_S)
                continue
            except Exception:
                log.exception("store writer: %s failed", _what(write))
                return True  # a bug or a bad value: alerts still hear the event
            if self._down_since is not None:
                log.warning("store writer: the store is back after %.1f s; %d writes waiting",
                            time.monotonic() - self._down_since, self._queue.stats().waiting)
                self._down_since = None
            return True


def _what(write: Callable[..., None]) -> str:
    return getattr(write, "__name__", str(write)).replace("_", " ")
