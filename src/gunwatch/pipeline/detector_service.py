"""The detector shared by every camera: frames submitted from the cameras' threads, batched, answered one by one.

A camera submits its frame with its analysis options (tiles, analysis size, second look) and gets a future.
`workers` threads take batches from a `FairScheduler` (fair shares of detector time; a batch leaves when full
or after a short deadline) and run each through the `FrameAnalyzer`, so one camera's expensive call (tiles
on 1080p) occupies one worker, never the others, and a camera never waits for another camera's frames to be
handled after the detector is done with its own. With `workers=0` the service is synchronous: `submit` runs
the request on the caller's thread (the accelerated, deterministic replay of `gunwatch bench alarms`).
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
        self._changed = threading.Condition()  # guards the scheduler and `_closed`; wakes idle workers
        self._closed = False
        self._threads = [threading.Thread(target=self._work, name=f"detect-{i + 1}", daemon=True)
                         for i in range(workers)]

    def start(self) -> DetectorService:
        for thread in self._threads:
            thread.start()
        return self

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

    def close(self, timeout: float | None = None) -> None:
        """Stop taking batches; requests still waiting fail with DetectorClosed; calls running finish."""
        with self._changed:
            self._closed = True
            left = self._scheduler.drain()
            self._changed.notify_all()
        for queued in left:
            queued.item.future.set_exception(DetectorClosed("the detector service closed before the frame ran"))
        for thread in self._threads:
            if thread.is_alive():
                thread.join(timeout)

    # --- the workers ---------------------------------------------------------------------------------

    def _work(self) -> None:
        while True:
            with self._changed:
                batch = self._next()
            if batch is None:
                return
            jobs = batch.items
            found, error, seconds = self._call(jobs)
            with self._changed:  # charged before the answers go out: a camera submitting again is ordered by it
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
