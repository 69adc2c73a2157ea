"""A watch's signals, handled from its first moment: SIGINT / SIGTERM stop it, SIGHUP reloads its site file.

Their default actions end the process on the spot. Before this, a watch installed its handlers only once its
cameras ran, so a stop that came while it was starting (systemd stopping a unit that had just started, a
Ctrl-C) killed it half started: no run ending written, the alert service cut off mid-delivery. And
`gunwatch reload` finds a watch by its run in the store, which is written before the cameras open, so a reload
asked in that window killed the watch it meant to reload. Now a stop asked before the pipeline exists is kept
and honoured as soon as it does (the start then ends in the same orderly shutdown as any stop), and a reload
asked before the reloader exists runs once it does (the file may have changed since it was first read).
"""

from __future__ import annotations

import signal
import threading
from typing import Any, Protocol


class Stoppable(Protocol):
    def stop(self) -> None: ...


class Reloading(Protocol):
    def in_background(self) -> None: ...


class WatchSignals:
    """Routes SIGINT / SIGTERM to the pipeline's stop and SIGHUP to its reloader, keeping what comes early."""

    def __init__(self) -> None:
        self.stop_asked = threading.Event()
        self._reload_asked = False
        self._service: Stoppable | None = None
        self._reloader: Reloading | None = None
        self._previous: dict[int, Any] = {}  # what signal.signal gave back: a handler, SIG_DFL or SIG_IGN
        # No lock: the handlers run on the main thread, between any two steps of the start that calls stop_with
        # and reload_with, so a lock held there would deadlock. Every interleaving below still ends in one stop
        # (or a harmless second one) and in one reload.

    def __enter__(self) -> WatchSignals:
        """From the main thread, first thing (later handlers, `keep_serving`'s, may replace these for a while)."""
        self._previous = {signum: signal.signal(signum, handler) for signum, handler in (
            (signal.SIGINT, self._on_stop), (signal.SIGTERM, self._on_stop), (signal.SIGHUP, self._on_reload))}
        return self

    def __exit__(self, *_: object) -> None:
        """The handlers as they were: a process that goes on after the watch (a test run) gets its Ctrl-C back."""
        for signum, handler in self._previous.items():
            signal.signal(signum, handler)

    def stop_with(self, service: Stoppable) -> None:
        """The pipeline now exists: a stop asked already stops it at once (its run returns straight away)."""
        self._service = service
        if self.stop_asked.is_set():
            service.stop()

    def reload_with(self, reloader: Reloading) -> None:
        """The reloader now exists: a reload asked already runs now."""
        self._reloader = reloader
        asked, self._reload_asked = self._reload_asked, False
        if asked:
            reloader.in_background()

    def _on_stop(self, *_: object) -> None:
        self.stop_asked.set()
        service = self._service
        if service is not None:
            service.stop()

    def _on_reload(self, *_: object) -> None:
        reloader = self._reloader
        if reloader is None:
            self._reload_asked = True
        else:
            reloader.in_background()
