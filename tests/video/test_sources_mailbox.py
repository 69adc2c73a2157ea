"""The one-slot mailbox between a camera's reader and its consumer."""

from __future__ import annotations

import threading
import time

import numpy as np

from gunwatch.video.frame import Frame
from gunwatch.video.sources.mailbox import LatestFrame

HANG_GUARD_S = 60.0  # far past any wait here: reached only when the behaviour under test is broken


def _frame(index: int) -> Frame:
    return Frame("cam", np.zeros((2, 2, 3), np.uint8), index, index / 10, time.time())


def test_latest_returns_the_newest_frame_and_counts_the_unread_ones_as_dropped():
    mailbox = LatestFrame()
    assert mailbox.latest() is None
    for index in range(5):
        mailbox.put(_frame(index))
    assert mailbox.latest().index == 4
    assert mailbox.dropped == 4  # 0..3 were replaced before anyone took them
    mailbox.put(_frame(5))
    assert mailbox.dropped == 4  # 4 was taken, so replacing it drops nothing


def test_latest_after_an_index_returns_only_newer_frames():
    mailbox = LatestFrame()
    mailbox.put(_frame(3))
    assert mailbox.latest(after=3) is None
    assert mailbox.latest(after=2).index == 3
    assert mailbox.latest(after=2).index == 3  # taking does not empty the slot


def test_wait_returns_when_a_newer_frame_arrives_or_after_the_timeout():
    mailbox = LatestFrame()
    mailbox.put(_frame(0))
    # A frame only the hang guard sends: a wait that ignored its timeout would return it instead of None.
    guard = threading.Timer(HANG_GUARD_S, mailbox.put, [_frame(9)])
    guard.start()
    try:
        started = time.monotonic()
        assert mailbox.wait(after=0, timeout=0.1) is None
        # Only a lower bound, which no slow machine can break: it waited the 0.1 s before giving up.
        assert time.monotonic() - started >= 0.09
    finally:
        guard.cancel()
    threading.Timer(0.05, mailbox.put, [_frame(1)]).start()
    assert mailbox.wait(after=0, timeout=HANG_GUARD_S).index == 1  # no time limit: the frame is what ends it


def test_close_wakes_a_waiting_consumer():
    mailbox = LatestFrame()
    threading.Timer(0.05, mailbox.close).start()
    # No time limit: only the hang guard's frame could end a wait that close did not wake, and then it is
    # that frame, not None, that comes back.
    guard = threading.Timer(HANG_GUARD_S, mailbox.put, [_frame(9)])
    guard.start()
    try:
        assert mailbox.wait() is None
    finally:
        guard.cancel()
