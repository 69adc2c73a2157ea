"""`WatchSignals`: real signals sent to this process. A stop or a reload asked before the pipeline or its reloader
exists is kept and honoured once they do, neither is lost or doubled, and the handlers are put back after."""

from __future__ import annotations

import os
import signal
import threading

import pytest

from gunwatch.pipeline.watch_signals import WatchSignals

# A bound on a wait that only a broken handler would reach; never what a passing test waits for.
HANDLER_BOUND_S = 60


class Pipeline:
    def __init__(self) -> None:
        self.stops = 0
        self.stopped = threading.Event()

    def stop(self) -> None:
        self.stops += 1
        self.stopped.set()


class Reloader:
    def __init__(self) -> None:
        self.reloads = 0
        self.reloaded = threading.Event()

    def in_background(self) -> None:
        self.reloads += 1
        self.reloaded.set()


def send(signum: signal.Signals, seen: threading.Event) -> None:
    """The signal to this process; returns once its Python handler has run (it sets `seen`)."""
    os.kill(os.getpid(), signum)
    assert seen.wait(HANDLER_BOUND_S)


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_a_stop_asked_while_starting_stops_the_pipeline_as_soon_as_it_exists(signum: signal.Signals) -> None:
    with WatchSignals() as signals:
        send(signum, signals.stop_asked)
        pipeline = Pipeline()
        signals.stop_with(pipeline)
        assert pipeline.stops == 1


def test_a_stop_once_the_pipeline_runs_stops_it() -> None:
    with WatchSignals() as signals:
        pipeline = Pipeline()
        signals.stop_with(pipeline)
        assert pipeline.stops == 0
        send(signal.SIGTERM, pipeline.stopped)
        assert pipeline.stops == 1


def test_a_reload_asked_while_starting_runs_once_the_reloader_exists_and_only_once() -> None:
    with WatchSignals() as signals:
        os.kill(os.getpid(), signal.SIGHUP)  # its default action would end this process
        reloader = Reloader()
        signals.reload_with(reloader)
        assert reloader.reloaded.wait(HANDLER_BOUND_S)
        assert reloader.reloads == 1
        reloader.reloaded.clear()
        send(signal.SIGHUP, reloader.reloaded)  # the next one runs at once; the early one was not kept twice
        assert reloader.reloads == 2


def test_a_reload_once_the_reloader_exists_runs_at_once() -> None:
    with WatchSignals() as signals:
        reloader = Reloader()
        signals.reload_with(reloader)
        assert reloader.reloads == 0
        send(signal.SIGHUP, reloader.reloaded)
        assert reloader.reloads == 1


def test_the_handlers_are_put_back_after_the_watch() -> None:
    before = {signum: signal.getsignal(signum) for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)}
    with WatchSignals():
        assert all(signal.getsignal(signum) != handler for signum, handler in before.items())
    assert {signum: signal.getsignal(signum) for signum in before} == before
