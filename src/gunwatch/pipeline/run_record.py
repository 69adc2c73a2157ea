"""`gunwatch watch`'s own record in the store: written at start, kept alive by a heartbeat, ended at stop.

At start, runs that never ended are sorted into dead and live. Dead: on this host, its process is gone (or
had our pid: a container restarted); anywhere, no heartbeat for `stale_after_s`. A run elsewhere with a
fresh heartbeat that watches one of our cameras may be the one we replace (a container restarted under a
new host name): we wait until it ends or goes silent, at most `stale_after_s`. Each dead run is recorded
as crashed: its cameras `stopped` ("watch crashed"), its open events closed. Then every event still open
on a camera no live run watches is closed too (left by a crash from before runs were recorded).

Open events are closed, not resumed: after a restart only the camera can tell whether the gun is still
there, and if it is, confirmation opens a new event within a second or two (a protocol's cool-down merges
it into the earlier alert). Closing loses no alert: the event's protocol runs and deliveries stay and go on
(a closed event does not stop them), and an event whose alert had not started yet (the process died between
storing it and handing it over) is handed to the alert service now, closed: its alert starts, saying it is late.

While the watch runs, the heartbeat is written only while `liveness` (the watchdog's) says it lives: a watch
whose pipeline is stuck looks to the next start, and to `camera status`, like the dead one it is.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
from collections.abc import Callable, Collection
from types import TracebackType

from gunwatch.events.model import ThreatEvent
from gunwatch.events.store import EventStore, StoreError
from gunwatch.events.store.runs import CLOSED_AT_RESTART, RunLog, WatchRun
from gunwatch.pipeline.watchdog import Liveness

log = logging.getLogger(__name__)

HEARTBEAT_S = 5.0
STALE_AFTER_S = 30.0  # no heartbeat for this long: the run is dead, wherever it ran (well over any stall)


def process_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process
        return True
    return True


def is_dead(run: WatchRun, host: str, pid: int, now: float, stale_after_s: float) -> bool:
    """Whether `run` (not ended) can no longer be running, seen from process `pid` on `host`."""
    if run.host == host and (run.pid == pid or not process_alive(run.pid)):
        return True
    # Elsewhere, or a live process that reused its pid: only a silent heartbeat tells.
    return now - run.heartbeat_at > stale_after_s


class RunRecord:
    def __init__(self, store: EventStore, cameras: Collection[str], heartbeat_s: float = HEARTBEAT_S,
                 stale_after_s: float = STALE_AFTER_S, host: str | None = None, pid: int | None = None):
        self.runs = RunLog(store)
        self.cameras = tuple(cameras)
        self.heartbeat_s, self.stale_after_s = heartbeat_s, stale_after_s
        self.host, self.pid = host or socket.gethostname(), pid or os.getpid()
        self.run: WatchRun | None = None
        self.liveness: Callable[[], Liveness] | None = None  # set once the watchdog runs
        self._stopping = threading.Event()
        self._heart = threading.Thread(target=self._beat, name="heartbeat", daemon=True)

    def start(self, on_recovered: Callable[[ThreatEvent], None] | None = None) -> RunRecord:
        """Record this run and what earlier ones left behind; `on_recovered` hears each event closed now, as
        closed: an alert the crash cut off still starts, saying it is late (`ProtocolEngine.on_event`)."""
        self.run = self.runs.begin(self.host, self.pid, self.cameras)
        log.info("watch: %s started", self.run.label)
        closed = self._recover(self.run)
        self._heart.start()
        if on_recovered is not None:
            for event in closed:
                on_recovered(event)
        return self

    def watching(self, cameras: Collection[str]) -> None:
        """A reload changed the cameras: recorded, so that this run's end (or a later start finding it crashed)
        marks those it watches now `stopped`, and a start elsewhere spares their events."""
        self.cameras = tuple(cameras)
        if self.run is None:
            return
        try:
            self.runs.watching(self.run.id, self.cameras)
        except StoreError as error:  # the cameras run all the same; the store may be back for the next reload
            log.error("watch: the cameras of %s are not recorded: %s", self.run.label, error)

    def stop(self, error: BaseException | None = None) -> None:
        """Record the end: `stopped`, or `failed` when `error` (not an interrupt) ended the watch."""
        self._stopping.set()
        if self._heart.is_alive():
            self._heart.join()
        if self.run is None:
            return
        ending = "stopped" if error is None or isinstance(error, KeyboardInterrupt) else "failed"
        note = None if ending == "stopped" else f"ended by {type(error).__name__} (see the log)"
        try:
            closed = self.runs.end(self.run.id, ending, note, spare=self._live_cameras(self.run))
        except StoreError as store_error:
            log.error("watch: the end of %s is not recorded (%s); the next start records it as crashed",
                      self.run.label, store_error)
            return
        log.info("watch: %s %s; cameras %s marked stopped%s", self.run.label, ending, ", ".join(self.cameras),
                 _closed_text(closed))

    def exit(self, kind: type[BaseException] | None, error: BaseException | None,
             _traceback: TracebackType | None) -> bool:
        """For `ExitStack.push`: ends the run with whatever ended the watch; never swallows it."""
        self.stop(error)
        return False

    # --- start ----------------------------------------------------------------------------------------

    def _recover(self, own: WatchRun) -> list[ThreatEvent]:
        dead, live = self._sort(own)
        spare = {camera for run in live for camera in run.cameras}
        for run in live:
            shared = sorted(set(self.cameras) & set(run.cameras))
            if shared:
                log.warning("watch: %s is watching %s as well (heartbeat %.0f s ago): both raise alerts",
                            run.label, ", ".join(shared), time.time() - run.heartbeat_at)
        closed: list[ThreatEvent] = []
        for run in dead:
            events = self.runs.crashed(run, own.label, spare)
            if events is None:
                continue  # another start recorded it first
            log.warning("watch: %s, started %s, did not stop cleanly (last heartbeat %s): recorded as crashed; "
                        "its cameras marked stopped%s", run.label, _clock(run.started_at), _clock(run.heartbeat_at),
                        _closed_text(events))
            closed += events
        left_open = self.runs.close_open_events(CLOSED_AT_RESTART, spare)
        if left_open:
            log.warning("watch: events left open by an earlier watch%s", _closed_text(left_open))
        return closed + left_open

    def _sort(self, own: WatchRun) -> tuple[list[WatchRun], list[WatchRun]]:
        """The other unfinished runs as (dead, live); waits while one that may be live watches our cameras."""
        waited_since, told = time.monotonic(), False
        while True:
            runs = [run for run in self.runs.unfinished() if run.id != own.id]
            now = time.time()
            dead = [run for run in runs if is_dead(run, self.host, self.pid, now, self.stale_after_s)]
            live = [run for run in runs if run not in dead]
            unsure = [run for run in live if set(run.cameras) & set(self.cameras)]
            if not unsure or time.monotonic() - waited_since > self.stale_after_s:
                return dead, live
            if not told:
                told = True
                log.info("watch: waiting up to %g s for %s to stop or miss its heartbeats: it watches the same "
                         "cameras", self.stale_after_s, ", ".join(run.label for run in unsure))
            time.sleep(min(self.heartbeat_s, self.stale_after_s))

    def _live_cameras(self, own: WatchRun) -> set[str]:
        now = time.time()
        return {camera for run in self.runs.unfinished()
                if run.id != own.id and not is_dead(run, self.host, self.pid, now, self.stale_after_s)
                for camera in run.cameras}

    # --- while running --------------------------------------------------------------------------------

    def _beat(self) -> None:
        disowned = withheld = False
        while not self._stopping.wait(self.heartbeat_s):
            assert self.run is not None
            alive = self._alive()
            if alive.ok == withheld:  # a change either way is said once
                withheld = not alive.ok
                if withheld:
                    log.error("watch: heartbeat withheld, the pipeline is stuck: %s", "; ".join(alive.problems))
                else:
                    log.warning("watch: the pipeline moves again; heartbeat resumed")
            if withheld:
                continue
            try:
                beaten = self.runs.beat(self.run.id)
            except StoreError as error:  # the database restarting: the next beat tries again
                log.warning("watch: heartbeat not recorded: %s", error)
                continue
            if not beaten and not disowned:
                disowned = True
                log.error("watch: another start recorded %s as ended (it missed heartbeats); watching goes on",
                          self.run.label)

    def _alive(self) -> Liveness:
        if self.liveness is None:
            return Liveness(True)
        try:
            return self.liveness()
        except Exception as error:  # a bug in looking must not end the heartbeat for good
            log.exception("watch: liveness not known")
            return Liveness(False, (f"liveness not known: {type(error).__name__}",))


def _closed_text(events: list[ThreatEvent]) -> str:
    if not events:
        return ""
    return f"; {len(events)} open event(s) closed: " + ", ".join(f"{e.id} ({e.camera})" for e in events)


def _clock(epoch: float) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(epoch))
