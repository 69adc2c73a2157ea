"""The detector shared by every camera: frames submitted from the cameras' threads, batched, answered one by one.

A camera submits its frame with its analysis options (tiles, analysis size, second look) and gets a future.
`workers` threads take batches from a `FairScheduler` (fair shares of detector time; a batch leaves when full
or after a short deadline) and run each through the `FrameAnalyzer`, so one camera's expensive call (tiles
on 1080p) occupies one worker, never the others, and a camera never waits for another camera's frames to be
handled after the detector is done with its own. With `workers=0` the service is synchronous: `submit` runs
the request on the caller's thread (the accelerated, deterministic replay of `gunwatch bench alarms`).

A call that hangs (`running` tells since when each call runs) is given up by `abandon`: its frames fail with
DetectorStuck, so their cameras go on with their next frames, and a new worker takes the hung one's place;
whatever the hung call returns later is dropped.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Hashable
from concurrent.futures import Future
from dataclasses import dataclass

from gunwatch.inference.detections import Detections
from gunwatch.pipeline.analysis import AnalysisRequest, FrameAnalyzer
from gunwatch.pipeline.fair_share import Batch, FairScheduler

log = logging.getLogger(__name__)

# Long enough for frames of cameras sampled at nearly the same moment to share a call, short beside the 1 s
# alarm target; a batch leaves sooner when it is full or no other camera could add a frame.
BATCH_DEADLINE_S = 0.005


class DetectorClosed(RuntimeError):
    """The service closed before the request ran."""


class DetectorStuck(RuntimeError):
    """The call the request rode in hung and was abandoned (`DetectorService.abandon`)."""


@dataclass(frozen=True)
class RunningCall:
    """A detector call in progress: a watchdog's view."""

    id: int
    cameras: tuple[str, ...]  # one per frame in the call
    started: float  # on the service's clock (monotonic)


@dataclass(frozen=True)
class Analysed:
    """One request's answer, with the call it rode in."""

    detections: Detections
    call_s: float  # the whole batch's detector seconds
    batch_size: int

    @property
    def share_s(self) -> float:
        """This frame's share of the call."""
        return self.call_s / self.batch_size


@dataclass(frozen=True)
class _Job:
    request: AnalysisRequest
    future: Future[Analysed]


@dataclass(frozen=True)
class _Call:
    id: int
    batch: Batch[_Job]
    started: float
    thread: threading.Thread  # the worker running it


def request_key(request: AnalysisRequest) -> Hashable:
    """Requests with one key share a runtime call: the analyzer groups a batch by tile mode, and the second
    look adds a call of its own."""
    return request.tiles, request.second_look


class DetectorService:
    def __init__(self, analyzer: FrameAnalyzer, workers: int = 1, max_batch: int = 8,
                 deadline_s: float = BATCH_DEADLINE_S, clock: Callable[[], float] = time.monotonic) -> None:
        if workers < 0:
            raise ValueError(f"workers must be >= 0 (0: synchronous), got {workers}")
        self.analyzer = analyzer
        self.threshold, self.class_names = analyzer.threshold, analyzer.class_names
        self.workers = workers
        self._clock = clock
        self._scheduler: FairScheduler[_Job] = FairScheduler(max_batch, deadline_s)
        self._changed = threading.Condition()  # guards the scheduler, `_running`, `_closed`; wakes idle workers
        self._closed = False
        self._running: dict[int, _Call] = {}  # calls in progress by id; an abandoned one is taken out
        self._calls = self._workers_made = 0
        self.abandoned = 0  # calls given up as hung
        self._threads: list[threading.Thread] = []  # the workers, less those left in an abandoned call
        self._threads += [self._worker() for _ in range(workers)]

    def start(self) -> DetectorService:
        for thread in self._threads:
            thread.start()
        return self

    def running(self) -> list[RunningCall]:
        """The calls in progress, oldest first."""
        with self._changed:
            calls = sorted(self._running.values(), key=lambda call: call.started)
        return [RunningCall(call.id, tuple(r.camera for r in call.batch.requests), call.started) for call in calls]

    def abandon(self, call_id: int, reason: str) -> bool:
        """Give up a call that hangs: its frames fail with DetectorStuck(`reason`) and a new worker replaces the
        one stuck in it. False when the call had ended meanwhile (or the service is closed)."""
        with self._changed:
            call = self._running.pop(call_id, None)
            if call is None:
                return False
            self._scheduler.done(call.batch, self._clock() - call.started)  # its cameras' time was spent
            self.abandoned += 1
            self._threads.remove(call.thread)  # closing will not wait for it
            if not self._closed:
                replacement = self._worker()
                self._threads.append(replacement)
                replacement.start()
            self._changed.notify_all()
        log.error("detector: a call of %d frames (%s) abandoned: %s", len(call.batch.requests),
                  ", ".join(sorted({r.camera for r in call.batch.requests})), reason)
        for job in call.batch.items:
            job.future.set_exception(DetectorStuck(reason))
        return True

    def submit(self, camera: str, request: AnalysisRequest) -> Future[Analysed]:
        """From any thread; returns at once (synchronous service: once the request ran)."""
        future: Future[Analysed] = Future()
        if self.workers == 0:
            jobs = [_Job(request, future)]
            _answer(jobs, *self._call(jobs))
            return future
        with self._changed:
            if self._closed:
                raise DetectorClosed("the detector service is closed")
            self._scheduler.push(camera, request_key(request), _Job(request, future), self._clock())
            self._changed.notify_all()
        return future

    def forget(self, camera: str) -> bool:
        """A camera removed (its thread ended): batches no longer wait for it. False while it has frames here."""
        with self._changed:
            return self._scheduler.forget(camera)

    def waiting(self) -> int:
        """Frames submitted and not yet taken into a batch (what a soak test watches for growth)."""
        with self._changed:
            return self._scheduler.waiting

    def close(self, timeout: float | None = None) -> None:
        """Stop taking batches; requests still waiting fail with DetectorClosed; calls running finish."""
        with self._changed:
            self._closed = True
            left = self._scheduler.drain()
            self._changed.notify_all()
        for queued in left:
            queued.item.future.set_exception(DetectorClosed("the detector service closed before the frame ran"))
        with self._changed:
            threads = list(self._threads)
        for thread in threads:
            if thread.is_alive():
                thread.join(timeout)

    # --- the workers ---------------------------------------------------------------------------------

    def _worker(self) -> threading.Thread:
        self._workers_made += 1  # a replacement's number is above `workers`: its name tells it is one
        return threading.Thread(target=self._work, name=f"detect-{self._workers_made}", daemon=True)

    def _work(self) -> None:
        while True:
            with self._changed:
                batch = self._next()
                if batch is None:
                    return
                self._calls += 1
                call = _Call(self._calls, batch, self._clock(), threading.current_thread())
                self._running[call.id] = call
            jobs = batch.items
            found, error, seconds = self._call(jobs)
            with self._changed:  # charged before the answers go out: a camera submitting again is ordered by it
                if self._running.pop(call.id, None) is None:  # abandoned: answered already, replaced already
                    log.warning("detector: an abandoned call returned after %.1f s; its answer is dropped", seconds)
                    return
                self._scheduler.done(batch, seconds)
                self._changed.notify_all()
            _answer(jobs, found, error, seconds)

    def _next(self) -> Batch[_Job] | None:
        """The next due batch, waiting for one (under the lock); None once closed."""
        while not self._closed:
            batch = self._scheduler.take(self._clock())
            if batch is not None:
                return batch
            wake = self._scheduler.wake_at()
            self._changed.wait(None if wake is None else max(0.0, wake - self._clock()))
        return None

    def _call(self, jobs: list[_Job]) -> tuple[list[Detections], Exception | None, float]:
        began = time.perf_counter()
        try:
            found, error = self.analyzer.analyse([job.request for job in jobs]), None
        except Exception as failure:  # one bad frame or a runtime hiccup fails this batch, not the service
            log.exception("detector failed on a batch of %d frames", len(jobs))
            found, error = [], failure
        return found, error, time.perf_counter() - began


def _answer(jobs: list[_Job], found: list[Detections], error: Exception | None, seconds: float) -> None:
    for index, job in enumerate(jobs):
        if error is not None:
            job.future.set_exception(error)
        else:
            job.future.set_result(Analysed(found[index], seconds, len(jobs)))
