"""A one-slot mailbox between a camera's reader and its consumer: the newest frame wins, nothing queues up."""

from __future__ import annotations

import threading

from gunwatch.video.frame import Frame


class LatestFrame:
    """Holds the newest frame only. A frame replaced before anyone took it counts as dropped.

    This is what keeps a slow detector current: it always gets the newest picture, and the older ones it
    had no time for are gone rather than queued (a queue would make every alarm later than the last).
    """

    def __init__(self) -> None:
        self._changed = threading.Condition()
        self._frame: Frame | None = None
        self._taken = True
        self._closed = False
        self.dropped = 0

    def put(self, frame: Frame) -> None:
        with self._changed:
            if not self._taken:
                self.dropped += 1
            self._frame, self._taken = frame, False
            self._changed.notify_all()

    def latest(self, after: int = -1) -> Frame | None:
        """The newest frame if its index is above `after`, else None; never waits."""
        with self._changed:
            return self._take(after)

    def wait(self, after: int = -1, timeout: float | None = None) -> Frame | None:
        """The newest frame with an index above `after`, waiting up to `timeout` s for one (None: it did not
        come in time, or the mailbox was closed)."""
        with self._changed:
            self._changed.wait_for(lambda: self._closed or self._newer(after), timeout)
            return self._take(after)

    def close(self) -> None:
        """Wake every waiter; later waits return at once."""
        with self._changed:
            self._closed = True
            self._changed.notify_all()

    def _newer(self, after: int) -> bool:
        return self._frame is not None and self._frame.index > after

    def _take(self, after: int) -> Frame | None:
        if not self._newer(after):
            return None
        self._taken = True
        return self._frame
