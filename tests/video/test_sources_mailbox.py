"""The one-slot mailbox between a camera's reader and its consumer."""

from __future__ import annotations

import threading
import time

import numpy as np

from gunwatch.video.frame import Frame
from gunwatch.video.sources.mailbox import LatestFrame


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
    started = time.monotonic()
    assert mailbox.wait(after=0, timeout=0.1) is None
    assert 0.09 <= time.monotonic() - started < 1.0
    threading.Timer(0.05, mailbox.put, [_frame(1)]).start()
    assert mailbox.wait(after=0, timeout=2).index == 1


def test_close_wakes_a_waiting_consumer():
    mailbox = LatestFrame()
    threading.Timer(0.05, mailbox.close).start()
    started = time.monotonic()
    assert mailbox.wait(timeout=5) is None
    assert time.monotonic() - started < 1.0
