"""Waiting in tests for something that happens on another thread or in another process."""

from __future__ import annotations

import subprocess
import time
from collections.abc import Callable

# The least any wait here lasts before it gives up, whatever a test asks. `make test` runs the suite in
# parallel workers on two cores, where a step that takes a tenth of a second alone can take seconds, and CI's
# machine is slower again. A wait returns as soon as its condition holds, so this costs a passing test
# nothing and only a failing one waits it out: tests assert that something happens, never how fast (speed
# and latency are measured by the benchmarks).
MIN_TIMEOUT_S = 60.0


def seconds_until(condition: Callable[[], bool], timeout: float, poll: float = 0.01) -> float | None:
    """Seconds until `condition` held, or None when it did not within `timeout` (at least MIN_TIMEOUT_S)."""
    timeout = max(timeout, MIN_TIMEOUT_S)
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        if condition():
            return time.monotonic() - started
        time.sleep(poll)
    return time.monotonic() - started if condition() else None


def wait_until(condition: Callable[[], bool], timeout: float = MIN_TIMEOUT_S) -> bool:
    """Whether `condition` held within `timeout` seconds (at least MIN_TIMEOUT_S)."""
    return seconds_until(condition, timeout) is not None


def wait_while_running(condition: Callable[[], bool], process: subprocess.Popen[str], poll: float = 0.05) -> bool:
    """Whether `condition` held while `process` ran (checked once more after it exited). No deadline: the
    process bounds the wait (a clip that plays to its end, `--duration`), so a slow machine only waits longer."""
    while process.poll() is None:
        if condition():
            return True
        time.sleep(poll)
    return condition()
