"""Play recorded frames at the pace of their timestamps, so that a file behaves like a live camera."""

from __future__ import annotations

import threading
import time

# Further behind than this (a busy CPU) or a timestamp jump further ahead (a broken file): start the clock
# again from this frame rather than rush through a backlog or sleep for minutes.
CATCH_UP_LIMIT_S = 1.0
JUMP_LIMIT_S = 5.0


class Pacer:
    def __init__(self, stop: threading.Event) -> None:
        self._stop = stop
        self._anchor: tuple[float, float] | None = None  # (monotonic time, pts) of the frame the clock started at

    def wait_for(self, pts: float) -> bool:
        """Sleep until the frame at `pts` is due; False when the source was stopped meanwhile."""
        now = time.monotonic()
        if self._anchor is None:
            self._anchor = (now, pts)
        due = self._anchor[0] + pts - self._anchor[1]
        if not -CATCH_UP_LIMIT_S <= due - now <= JUMP_LIMIT_S:
            self._anchor, due = (now, pts), now
        return not self._stop.wait(max(0.0, due - now))
