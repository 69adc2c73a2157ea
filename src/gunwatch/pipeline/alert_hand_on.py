"""Events handed to the alerts on a thread of their own, never later than a short wait for their snapshot.

The evidence writer asks for each snapshot (`expect`) and says when it is written (`written`) or failed
(`failed`). An event whose snapshot is written within `wait_s` goes to the listener once, with it. One whose
snapshot is late goes at `wait_s` without it (its alert says the picture follows), and again with it when it
is written: a hung evidence disk delays no alert by more than `wait_s`. One thread calls the listener, in the
order these were decided, so the version without the picture always comes before the one with it.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Callable

from gunwatch.events.model import ThreatEvent
from gunwatch.pipeline.write_queue import guarded

log = logging.getLogger(__name__)
EventListener = Callable[[ThreatEvent], None]


class AlertHandOn:
    def __init__(self, listener: EventListener, wait_s: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.listener, self.wait_s, self._clock = listener, wait_s, clock
        self._changed = threading.Condition()  # guards everything below
        self._expected: dict[int, tuple[float, ThreatEvent]] = {}  # token -> (deadline, event without snapshot)
        self._out: deque[ThreatEvent] = deque()
        self._calling = False
        self._closing = False
        self._thread = threading.Thread(target=self._run, name="alert hand-on", daemon=True)

    def start(self) -> AlertHandOn:
        self._thread.start()
        return self

    def expect(self, token: int, event: ThreatEvent) -> None:
        """The snapshot of `event` is to be written (`token` names the write)."""
        with self._changed:
            self._expected[token] = (self._clock() + self.wait_s, event)
            self._changed.notify_all()

    def written(self, token: int, event: ThreatEvent) -> None:
        """Written: `event` names it. In time it is the event's only hand-on; late, its second."""
        with self._changed:
            self._expected.pop(token, None)
            self._out.append(event)
            self._changed.notify_all()

    def failed(self, token: int, event: ThreatEvent) -> None:
        """No snapshot (a full disk, a writer too far behind): `event` goes now, unless it went already."""
        with self._changed:
            if self._expected.pop(token, None) is not None:
                self._out.append(event)
                self._changed.notify_all()

    def wait_idle(self, timeout: float | None = None) -> bool:
        """Whether everything decided so far was handed on within `timeout` (snapshots still expected aside)."""
        with self._changed:
            return self._changed.wait_for(lambda: not self._out and not self._calling, timeout)

    def close(self, timeout: float | None = None) -> None:
        """Hand on what is waiting, every event still expecting its snapshot without it, then stop."""
        with self._changed:
            self._closing = True
            self._changed.notify_all()
        if self._thread.is_alive():
            self._thread.join(timeout)

    def _run(self) -> None:
        while True:
            with self._changed:
                while not self._due_or_closing():  # the next deadline is looked at again after every change
                    self._changed.wait(self._until_next())
                self._move_due(self._closing)
                batch = list(self._out)
                self._out.clear()
                self._calling = bool(batch)
                if not batch and self._closing:
                    return
            for event in batch:
                guarded(self.listener, event)
            with self._changed:
                self._calling = False
                self._changed.notify_all()

    def _due_or_closing(self) -> bool:
        now = self._clock()
        return bool(self._out) or self._closing or any(due <= now for due, _ in self._expected.values())

    def _until_next(self) -> float | None:
        if not self._expected:
            return None
        return max(0.0, min(due for due, _ in self._expected.values()) - self._clock())

    def _move_due(self, every: bool) -> None:
        now = self._clock()
        for token, (due, event) in list(self._expected.items()):
            if every or due <= now:
                del self._expected[token]
                log.warning("camera %s: event %s goes to the alerts without its snapshot (not written within %g s)",
                            event.camera, event.id, self.wait_s, extra={"camera": event.camera, "event": event.id})
                self._out.append(event)
