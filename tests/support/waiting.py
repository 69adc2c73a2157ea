"""Waiting in tests for something that happens on another thread or in another process."""

from __future__ import annotations

import subprocess
import time
from collections.abc import Callable


def seconds_until(condition: Callable[[], bool], timeout: float, poll: float = 0.01) -> float | None:
    """Seconds until `condition` held, or None when it did not within `timeout`."""
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        if condition():
            return time.monotonic() - started
        time.sleep(poll)
    return time.monotonic() - started if condition() else None


def wait_until(condition: Callable[[], bool], timeout: float = 5.0) -> bool:
    """Whether `condition` held within `timeout` seconds."""
    return seconds_until(condition, timeout) is not None


def wait_while_running(condition: Callable[[], bool], process: subprocess.Popen[str], poll: float = 0.05) -> bool:
    """Whether `condition` held while `process` ran (checked once more after it exited). No deadline: the
    process bounds the wait (a clip that plays to its end, `--duration`), so a slow machine only waits longer."""
    while process.poll() is None:
        if condition():
            return True
        time.sleep(poll)
    return condition()
