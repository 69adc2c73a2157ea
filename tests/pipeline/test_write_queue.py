"""A writer thread with a bounded queue: `put` never waits, falling behind and refusing are reported."""

from __future__ import annotations

import logging
import threading

import pytest

from gunwatch.pipeline.write_queue import WriteQueue


class HeldWrites:
    """Writes that wait for `release` (a disk or database that hangs), recorded in the order done."""

    def __init__(self) -> None:
        self.release = threading.Event()
        self.started = threading.Event()
        self.done: list[int] = []

    def __call__(self, item: int) -> None:
        self.started.set()
        assert self.release.wait(30), "the test never released the writer"
        if item < 0:
            raise OSError("No space left on device")
        self.done.append(item)


def test_puts_return_while_the_writer_hangs_and_everything_is_written_in_order_once_released(
    caplog: pytest.LogCaptureFixture,
) -> None:
    writes = HeldWrites()
    queue = WriteQueue("test writer", writes, capacity=4, behind_at=3).start()
    caplog.set_level(logging.WARNING)
    try:
        assert queue.put(0) and writes.started.wait(30)  # the writer holds item 0
        assert all(queue.put(item) for item in (1, 2, 3, 4))  # returned at once: the writer is still held
        assert not queue.put(5)  # full: refused, not waited for
        stats = queue.stats()
        assert (stats.waiting, stats.written, stats.refused, stats.behind) == (5, 0, 1, True)
        assert "test writer: falling behind, 3 writes waiting" in caplog.text
        assert "a write was refused (1 so far)" in caplog.text
        writes.release.set()
        assert queue.wait_idle(30)
        assert writes.done == [0, 1, 2, 3, 4]
        stats = queue.stats()
        assert (stats.waiting, stats.written, stats.behind, stats.oldest_s) == (0, 5, False, 0.0)
        assert "test writer: caught up" in caplog.text
    finally:
        writes.release.set()
        queue.close(30)


def test_a_failed_write_is_logged_and_the_next_one_goes_on(caplog: pytest.LogCaptureFixture) -> None:
    writes = HeldWrites()
    writes.release.set()
    queue = WriteQueue("test writer", writes, capacity=8).start()
    queue.put(-1)
    queue.put(7)
    assert queue.close(30)  # drains first
    assert writes.done == [7] and queue.stats().failed == 1 and "test writer: a write failed" in caplog.text
    assert not queue.put(8)  # closed


def test_close_gives_up_on_a_writer_that_hangs_and_says_so(caplog: pytest.LogCaptureFixture) -> None:
    writes = HeldWrites()
    queue = WriteQueue("test writer", writes, capacity=8).start()
    queue.put(1)
    queue.put(2)
    assert writes.started.wait(30)
    assert not queue.close(timeout=0.05)
    assert "test writer: 2 writes not done at exit" in caplog.text
    writes.release.set()
    assert queue.wait_idle(30) and writes.done == [1, 2]
