"""The encoder every camera's clips share: one thread, jobs in turn, and a job that hangs can be given up.

An `Executor` for `ClipRecorder`: one thread, so encoding never takes more than a core from inference. A job
that hangs (a disk that stopped answering, an encoder that never returns: `running` tells since when) is
given up by `restart`: its clip fails with EncoderStuck and a new thread takes the next clips; the hung thread
is left behind, and whatever it returns with later is dropped.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Callable
from concurrent.futures import Executor, Future
from dataclasses import dataclass
from typing import Any

log = logging.getLogger(__name__)


class EncoderStuck(RuntimeError):
    """The clip's encoding hung and was given up (or was not done when the watch stopped)."""


@dataclass(frozen=True)
class RunningClip:
    """The job in progress: a watchdog's view."""

    camera: str | None  # the camera of the event whose clip it is, when the job names one
    label: str
    started: float  # monotonic


@dataclass
class _Job:
    call: Callable[..., Any]
    args: tuple[Any, ...]
    kwargs: dict[str, Any]
    future: Future[Any]

    @property
    def camera(self) -> str | None:
        # ClipRecorder's jobs take the event first: its camera is whose clip is lost when the job hangs.
        return getattr(self.args[0], "camera", None) if self.args else None

    @property
    def label(self) -> str:
        event = getattr(self.args[0], "id", None) if self.args else None
        return f"clip of event {event}" if event else getattr(self.call, "__name__", "job")


class ClipEncoder(Executor):
    def __init__(self, name: str = "clips") -> None:
        self.name = name
        self._jobs: deque[_Job] = deque()
        self._changed = threading.Condition()  # guards everything below
        self._current: tuple[_Job, float] | None = None  # the job being run, since when (monotonic)
        self._generation = 0  # bumped by `restart`: a thread of an older one ends without a word
        self._closing = False
        self._refusing: str | None = None  # set by `give_up`: later jobs fail at once, with this reason
        self.restarts = 0
        self._thread: threading.Thread | None = self._start_thread()

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Future[Any]:
        future: Future[Any] = Future()
        with self._changed:
            if self._closing:
                raise RuntimeError(f"{self.name}: shut down")
            refusing = self._refusing
            if refusing is None:
                self._jobs.append(_Job(fn, args, kwargs, future))
                self._changed.notify_all()
        if refusing is not None:
            future.set_exception(EncoderStuck(refusing))
        return future

    def running(self) -> RunningClip | None:
        with self._changed:
            if self._current is None:
                return None
            job, started = self._current
            return RunningClip(job.camera, job.label, started)

    def restart(self, reason: str) -> RunningClip | None:
        """Give up the job in progress (hung): it fails with EncoderStuck(`reason`), and a new thread takes the
        next jobs. The job given up, or None when none was running."""
        with self._changed:
            if self._current is None:
                return None
            job, started = self._current
            self._current = None
            self._generation += 1
            self.restarts += 1
            self._thread = self._start_thread()
            self._changed.notify_all()
        log.error("%s: %s given up: %s", self.name, job.label, reason)
        job.future.set_exception(EncoderStuck(reason))
        return RunningClip(job.camera, job.label, started)

    def give_up(self, reason: str) -> int:
        """Fail the job in progress, every job waiting and every later one (the watch stops and cannot wait
        longer); how many were failed now."""
        with self._changed:
            jobs = list(self._jobs)
            self._jobs.clear()
            if self._current is not None:
                jobs.insert(0, self._current[0])
                self._current = None
            self._generation += 1  # the thread ends, or is left behind in its job
            self._thread = None
            self._refusing = reason
            self._changed.notify_all()
        for job in jobs:
            job.future.set_exception(EncoderStuck(reason))
        if jobs:
            log.error("%s: %d clips not written: %s", self.name, len(jobs), reason)
        return len(jobs)

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        with self._changed:
            self._closing = True
            if cancel_futures:
                for job in self._jobs:
                    job.future.cancel()
                self._jobs.clear()
            self._changed.notify_all()
            thread = self._thread
        if wait and thread is not None and thread.is_alive():
            thread.join()

    def _start_thread(self) -> threading.Thread:
        thread = threading.Thread(target=self._work, args=(self._generation,), name=self.name, daemon=True)
        thread.start()
        return thread

    def _work(self, generation: int) -> None:
        while True:
            with self._changed:
                self._changed.wait_for(lambda: self._jobs or self._closing or self._generation != generation)
                if self._generation != generation or not self._jobs:
                    return
                job = self._jobs.popleft()
                if not job.future.set_running_or_notify_cancel():
                    continue
                self._current = (job, time.monotonic())
            try:
                result, error = job.call(*job.args, **job.kwargs), None
            except BaseException as failure:  # handed to whoever waits on the clip, as an Executor does
                result, error = None, failure
            with self._changed:
                if self._generation != generation:  # given up meanwhile: the clip already failed
                    log.warning("%s: %s returned after it was given up; dropped", self.name, job.label)
                    return
                self._current = None
            if error is not None:
                job.future.set_exception(error)
            else:
                job.future.set_result(result)
