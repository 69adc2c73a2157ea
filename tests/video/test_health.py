"""Camera health: the states, and how a camera source reports changes (scripted readers, no video)."""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Iterator

import numpy as np
import pytest

from gunwatch.config.sections import HealthSettings, ReconnectSettings
from gunwatch.video.health import CAMERA_STATES, HealthChange
from gunwatch.video.sources import CameraSource, RawFrame, ReadContext, RecordingEnded, StreamFailure
from gunwatch.video.sources.camera import MAX_HUNG_READERS
from support.waiting import wait_until

FAST = HealthSettings(stall_after_s=1.0, reconnect=ReconnectSettings(initial_s=0.01, max_s=0.02))
BLOCK = "block"  # a connection that stays quiet until the source stops


class ScriptedReader:
    """Each connection plays the next outcome: a number of frames (then the stream ends), an exception, or
    BLOCK; after the script, connections block."""

    def __init__(self, *outcomes: int | BaseException | str) -> None:
        self.outcomes = list(outcomes)
        self.connections = 0

    def frames(self, context: ReadContext) -> Iterator[RawFrame]:
        self.connections += 1
        outcome = self.outcomes.pop(0) if self.outcomes else BLOCK
        if isinstance(outcome, BaseException):
            raise outcome
        if outcome == BLOCK:
            context.stop.wait()
            return
        for index in range(outcome):
            yield np.full((4, 6, 3), index, np.uint8), index / 10


def test_states_and_change_value():
    assert CAMERA_STATES == ("online", "offline", "stalled", "stopped", "degraded")
    change = HealthChange("lobby", "offline", "connection refused", 1.0)
    assert str(change) == "lobby: offline (connection refused)"
    with pytest.raises(dataclasses.FrozenInstanceError):
        change.state = "online"  # type: ignore[misc]


def test_changes_are_reported_with_reasons_and_repeats_are_not():
    reader = ScriptedReader(
        StreamFailure("connection refused"),
        StreamFailure("connection refused"),
        3,
        StreamFailure("no frame for 1 s", "stalled"),
        2,
    )
    changes: list[HealthChange] = []
    with CameraSource("lobby", reader, FAST, changes.append) as source:
        assert wait_until(lambda: reader.connections == 6)
        stats = source.stats()
    assert [(c.state, c.reason) for c in changes] == [
        ("offline", "connection refused"),  # once, though it failed twice
        ("online", "receiving 6x4 frames"),
        ("offline", "stream ended"),
        ("stalled", "no frame for 1 s"),
        ("online", "receiving 6x4 frames"),
        ("offline", "stream ended"),
    ]
    assert all(c.camera == "lobby" and c.at > 0 for c in changes)
    assert stats.frames_in == 5
    assert stats.reconnects == 5  # every connection after the first
    assert stats.state == "offline"


def test_frame_indices_keep_rising_across_reconnects():
    reader = ScriptedReader(3, 3)
    seen: list[int] = []
    with CameraSource("lobby", reader, FAST) as source:
        while (frame := source.wait(after=seen[-1] if seen else -1, timeout=2)) is not None:
            seen.append(frame.index)
            if frame.index == 5:
                break
    assert seen == sorted(set(seen)) and seen[-1] == 5


def test_a_failing_health_listener_does_not_stop_the_camera():
    reader = ScriptedReader(StreamFailure("connection refused"), 3)

    def broken_listener(change: HealthChange) -> None:
        raise RuntimeError("listener bug")

    with CameraSource("lobby", reader, FAST, broken_listener) as source:
        assert wait_until(lambda: source.stats().frames_in == 3)


def test_a_reader_bug_is_reported_and_the_camera_retried():
    reader = ScriptedReader(KeyError("oops"), 2)
    changes: list[HealthChange] = []
    with CameraSource("lobby", reader, FAST, changes.append) as source:
        assert wait_until(lambda: source.stats().frames_in == 2)
    assert changes[0].reason == "internal error: KeyError"


def test_the_end_of_a_recording_is_final():
    reader = ScriptedReader(2, RecordingEnded("end of file"))
    changes: list[HealthChange] = []
    source = CameraSource("lobby", reader, FAST, changes.append).start()
    assert wait_until(lambda: not source.running)
    assert [(c.state, c.reason) for c in changes][-1] == ("offline", "end of file")
    assert reader.connections == 2
    assert source.stop()


def test_stop_ends_a_reader_blocked_in_its_connection_and_nothing_is_reported_after_it():
    changes: list[HealthChange] = []
    reader = ScriptedReader(BLOCK)
    source = CameraSource("lobby", reader, FAST, changes.append).start()
    assert wait_until(lambda: reader.connections == 1)  # the reader is inside its blocked connection
    assert source.stop()  # True: the camera's thread ended (the reader was woken, not left behind)
    assert changes == []
    assert source.wait(timeout=5) is None  # a stopped source wakes its consumer at once


def test_a_listener_may_run_on_another_thread_than_the_consumer():
    # The callback runs on the camera's own thread; a slow listener delays only that camera.
    threads: set[str] = set()
    reader = ScriptedReader(1)
    with CameraSource("lobby", reader, FAST, lambda change: threads.add(threading.current_thread().name)):
        assert wait_until(lambda: len(threads) == 1)
    assert threads == {"camera-lobby"}


class HungReader:
    """The first connection yields one frame, then hangs in a read that no stop reaches (a driver or network
    call without a timeout) until `release`, and then yields one more frame. The next connection yields two
    frames and stays quiet until stopped."""

    def __init__(self) -> None:
        self.release, self.hung = threading.Event(), threading.Event()
        self.connections = 0

    def frames(self, context: ReadContext) -> Iterator[RawFrame]:
        self.connections += 1
        if self.connections == 1:
            yield np.zeros((4, 6, 3), np.uint8), 0.0
            self.hung.set()
            assert self.release.wait(30), "the test never released the reader"
            yield np.full((4, 6, 3), 99, np.uint8), 1.0  # what the abandoned reader returns with, late
            return
        for _ in range(2):
            yield np.full((4, 6, 3), 7, np.uint8), None
        context.stop.wait()


def test_a_hung_reader_shows_as_waiting_and_a_restart_reads_on_a_new_thread_dropping_what_the_old_one_returns():
    reader = HungReader()
    changes: list[HealthChange] = []
    source = CameraSource("lobby", reader, FAST, changes.append).start()
    try:
        assert reader.hung.wait(10)
        since = source.stats().waiting_since
        assert since is not None and source.stats().frames_in == 1  # waiting since its frame: no progress
        [hung_thread] = [t for t in threading.enumerate() if t.name == "camera-lobby"]
        assert source.restart("reader hung: neither a frame nor a failure for 11 s; reopened by the watchdog")
        assert wait_until(lambda: source.stats().frames_in == 3)  # the new reader's two frames
        stats = source.stats()
        assert stats.restarts == 1 and stats.state == "online"
        assert stats.waiting_since is not None and stats.waiting_since > since
        assert [(c.state, c.reason.split(":")[0]) for c in changes] == [
            ("online", "receiving 6x4 frames"), ("stalled", "reader hung"), ("online", "receiving 6x4 frames")]
        reader.release.set()
        # The abandoned thread's late frame (all 99) is dropped: once that thread has ended, nothing changed.
        hung_thread.join(10)
        assert not hung_thread.is_alive()
        frame = source.latest()
        assert frame is not None and int(frame.image[0, 0, 0]) == 7
        assert source.stats().frames_in == 3 and len(changes) == 3
    finally:
        reader.release.set()
        assert source.stop()
    assert not source.restart("stopped")


class AlwaysHungReader:
    """Every connection yields one frame, then hangs until its own release (a camera whose driver keeps hanging)."""

    def __init__(self) -> None:
        self.hung: list[threading.Event] = []  # set once the connection hangs
        self.releases: list[threading.Event] = []
        self.lock = threading.Lock()

    def frames(self, context: ReadContext) -> Iterator[RawFrame]:
        with self.lock:
            hung, release = threading.Event(), threading.Event()
            self.hung.append(hung)
            self.releases.append(release)
        yield np.zeros((4, 6, 3), np.uint8), None
        hung.set()
        assert release.wait(30), "the test never released the reader"

    def connection_hung(self, number: int) -> bool:
        with self.lock:
            return len(self.hung) >= number and self.hung[number - 1].is_set()


def test_a_camera_that_keeps_hanging_gets_no_more_than_three_abandoned_readers_until_one_returns():
    reader = AlwaysHungReader()
    changes: list[HealthChange] = []
    source = CameraSource("lobby", reader, FAST, changes.append).start()
    try:
        for connection in range(1, MAX_HUNG_READERS + 1):
            assert wait_until(lambda n=connection: reader.connection_hung(n))
            assert source.restart("reader hung")
        assert wait_until(lambda: reader.connection_hung(MAX_HUNG_READERS + 1))

        assert not source.restart("reader hung")  # three are still hung: no fourth thread for this camera
        stats = source.stats()
        assert stats.restarts == MAX_HUNG_READERS and stats.state == "stalled"
        assert "not reopened: 3 earlier readers are still hung" in stats.reason
        assert sum(t.name == "camera-lobby" for t in threading.enumerate()) == MAX_HUNG_READERS + 1

        reader.releases[0].set()  # the first abandoned reader returns at last: a new one may start
        assert wait_until(lambda: sum(t.name == "camera-lobby" for t in threading.enumerate()) == MAX_HUNG_READERS)
        assert source.restart("reader hung")
        assert source.stats().restarts == MAX_HUNG_READERS + 1
    finally:
        for release in reader.releases:
            release.set()
        source.stop()
