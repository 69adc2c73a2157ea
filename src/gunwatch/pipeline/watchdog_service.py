"""The watchdog's thread: every `every_s` it looks at what the live pipeline has in progress, and restarts what hangs.

- a camera reader with neither a frame nor a failure for `stall_after_s` plus a grace (its own timeouts did not
  fire): reopened on a new thread; the camera is `stalled` until its first frame (`CameraSource.restart`);
- a detector call past its bound: given up, its frames fail so their cameras go on, a new worker takes its
  place (`DetectorService.abandon`); its cameras are reported `stalled`, and `online` once analysed again;
- a clip encoding past its bound: given up, the next clips go to a new thread (`ClipEncoder.restart`); its
  camera is reported `degraded` (the clip is lost), then its state again;
- a delivery attempt past its lane's bound: given up and retried on the outbox's schedule, a new worker serves
  the lane (`Dispatcher.restart_lane`); logged, and counted in the status line.

Health changes go where the sources' own go (the store, the alerts: `stalled` can start the camera-offline
protocol). `liveness` says whether `watch` lives (the link endpoint's /healthz; the run's heartbeat stops when
it does not): this loop goes round and every camera's analysis thread moves.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import Counter
from collections.abc import Callable, Mapping
from functools import partial

from gunwatch.alerts.outbox.deliveries import CALL_LANE, COMMAND_LANE
from gunwatch.alerts.outbox.dispatcher import Dispatcher
from gunwatch.alerts.service import AlertService
from gunwatch.config.sections import WatchdogSettings
from gunwatch.pipeline.camera_loop import CameraLoop
from gunwatch.pipeline.watch import WatchService
from gunwatch.pipeline.watchdog import Liveness, Recovery, Work, liveness, overdue
from gunwatch.video.health import CameraState, HealthChange

log = logging.getLogger(__name__)

TIMEOUT_GRACE_S = 5.0  # past its own timeout by this much, an attempt is hung, not slow
ROUND_SLACK_S = 5.0  # a camera round waits for its detector call; past that bound and this, the thread is stuck
ACTION_TIMEOUT_S = 300.0  # calls and commands when no protocol names one (the config's largest call timeout)


def lane_bounds(alerts: AlertService, settings: WatchdogSettings) -> dict[str, float]:
    """How long an attempt may run on each lane. A message: its channel's timeout and a grace, at most
    `delivery_s` (sent twice, it carries its idempotency key). A call or a command: only past the longest
    timeout a step gives it, never sooner: a door lock called twice is not the same as once."""
    bounds = {name: min(channel.config.timeout_s + TIMEOUT_GRACE_S, settings.delivery_s)
              for name, channel in alerts.channels.items()}
    timeouts = []
    for protocol in alerts.settings.protocols.values():
        for step in protocol.steps:
            if step.kind in ("call", "run"):
                payload = step.payload
                timeouts.append(getattr(payload, "timeout_s", ACTION_TIMEOUT_S))
                cancel = getattr(payload, "cancel", None)
                if cancel is not None:
                    timeouts.append(getattr(cancel, "timeout_s", ACTION_TIMEOUT_S))
    action_s = max(timeouts, default=ACTION_TIMEOUT_S) + TIMEOUT_GRACE_S
    bounds[CALL_LANE] = bounds[COMMAND_LANE] = action_s
    return bounds


class Watchdog:
    def __init__(self, service: WatchService, settings: WatchdogSettings | None = None,
                 dispatcher: Dispatcher | None = None, lane_bounds: Mapping[str, float] | None = None,
                 clock: Callable[[], float] = time.monotonic) -> None:
        """`dispatcher` and `lane_bounds` (from `lane_bounds`) when the watch sends alerts."""
        self.service = service
        self.settings = settings or service.site.health.watchdog
        self.dispatcher, self.lane_bounds = dispatcher, dict(lane_bounds or {})
        self._clock = clock
        self.recovery = Recovery()
        self.restarts: Counter[str] = Counter()  # by kind of work
        self.lane_restarts: Counter[str] = Counter()  # deliveries given up, by lane
        self.last_check = clock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="watchdog", daemon=True)

    def start(self) -> Watchdog:
        self._thread.start()
        return self

    def stop(self, timeout: float = 5.0) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout)

    # --- looking -------------------------------------------------------------------------------------

    def work(self, now: float) -> list[Work]:
        """Everything in progress now."""
        service, settings = self.service, self.settings
        found = []
        reader_bound = service.site.health.stall_after_s + settings.reader_grace_s
        for loop in service.loops:
            since = loop.source.stats().waiting_since
            if since is not None:  # a folder of images plays at the camera's fps: a slow one is quiet that long
                bound = reader_bound + loop.period
                found.append(Work("reader", loop.name, since, bound, "neither a frame nor a failure", (loop.name,)))
        for call in service.detector.running():
            found.append(Work("detector call", str(call.id), call.started, settings.detector_call_s,
                              f"a call of {len(call.cameras)} frames", tuple(sorted(set(call.cameras)))))
        clip = service.encoder.running()
        if clip is not None:  # a long clip may take as long as it lasts (encoding at real time, on a busy core)
            evidence = service.site.evidence
            bound = settings.clip_s + evidence.pre_roll_s + evidence.post_roll_s
            found.append(Work("clip", service.encoder.name, clip.started, bound, clip.label,
                              (clip.camera,) if clip.camera else ()))
        if self.dispatcher is not None:
            for attempt in self.dispatcher.in_flight():
                bound = self.lane_bounds.get(attempt.lane, settings.delivery_s)
                found.append(Work("delivery", attempt.lane, attempt.since, bound,
                                  f"delivery {attempt.key} on lane {attempt.lane}"))
        return found

    def check(self) -> list[Work]:
        """One round: restart what hangs, report cameras that recovered; what was restarted."""
        now = self._clock()
        restarted = [work for work in overdue(self.work(now), now) if self._restart(work, now)]
        self._report_recovered()
        self.last_check = self._clock()
        return restarted

    def liveness(self) -> Liveness:
        """From any thread (the link endpoint's, the heartbeat's): computed now, not by this loop."""
        service = self.service
        stopping = service.stop_event.is_set()
        rounds = {} if stopping else {runner.loop.name: runner.last_round if runner.alive else None
                                      for runner in service.runners}
        round_bound = self.settings.detector_call_s + 2 * self.settings.every_s + ROUND_SLACK_S
        return liveness(self._clock(), self.last_check, self.settings.every_s, rounds, round_bound)

    def alive(self) -> bool:
        return self.liveness().ok

    def _run(self) -> None:
        while not self._stop.wait(self.settings.every_s):
            try:
                self.check()
            except Exception:  # a bug here must not end the watching; `liveness` shows a loop that stops checking
                log.exception("watchdog: a round failed")

    # --- acting --------------------------------------------------------------------------------------

    def _restart(self, work: Work, now: float) -> bool:
        reason = work.reason(now)
        reports: list[Callable[[], None]] = []  # health said after the restart is counted: whoever hears it sees it
        if work.kind == "reader":
            loop = self._loop(work.name)  # None: a reload removed the camera meanwhile
            done = loop is not None and loop.source.restart(f"{reason}; reopened by the watchdog")
        elif work.kind == "detector call":
            done = self.service.detector.abandon(int(work.name), f"{reason}; given up by the watchdog")
            if done:
                for camera in work.cameras:
                    loop = self._loop(camera)
                    if loop is None:
                        continue
                    self.recovery.held_up(camera, loop.counters.analysed)
                    reports.append(partial(self._report, camera, "stalled",
                                           f"{reason}; given up by the watchdog, analysis goes on"))
        elif work.kind == "clip":
            given_up = self.service.encoder.restart(f"{reason}; given up by the watchdog")
            done = given_up is not None
            if given_up is not None and given_up.camera is not None:
                reports.append(partial(self._report, given_up.camera, "degraded",
                                       f"{reason}; the clip is lost, the encoder restarted"))
                reports.append(partial(self._report_state, given_up.camera, "clip encoder restarted by the watchdog"))
        else:
            done = self.dispatcher is not None and self.dispatcher.restart_lane(work.name, reason) is not None
            if done:
                self.lane_restarts[work.name] += 1
        if done:
            self.restarts[work.kind] += 1
            for camera in work.cameras:
                self.service.restarts[camera] += 1
            log.error("watchdog: %s: restarted", reason)
        for report in reports:
            report()
        return done

    def _report_recovered(self) -> None:
        analysed = {loop.name: loop.counters.analysed for loop in self.service.loops}
        for camera in self.recovery.recovered(analysed):
            self._report_state(camera, "frames analysed again after the watchdog gave up a hung detector call")

    def _report_state(self, camera: str, why: str) -> None:
        """The camera is back to what its source says, once that is online (otherwise the source's own word,
        offline or stalled, stands and says more)."""
        loop = self._loop(camera)
        if loop is not None and loop.source.state == "online":
            source = loop.source
            self._report(camera, "online", f"{source.stats().reason}; {why}")

    def _report(self, camera: str, state: CameraState, reason: str) -> None:
        self.service.report_health(HealthChange(camera, state, reason, time.time()))

    def forget(self, camera: str) -> None:
        """A camera a reload removed: no recovery of it is awaited. (Cameras are tracked from the service's
        lists each round: one added is watched from the next.)"""
        self.recovery.forget(camera)

    def _loop(self, camera: str) -> CameraLoop | None:
        return next((loop for loop in self.service.loops if loop.name == camera), None)
