"""Broken cameras: each goes offline with its reason, backs off, stops promptly, and leaves the others alone."""

from __future__ import annotations

import io
import os
import random
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from gunwatch.config import Camera
from gunwatch.config.sections import HealthSettings, ReconnectSettings
from gunwatch.video.health import HealthChange
from gunwatch.video.sources import camera_source
from support.videos import write_video
from support.waiting import wait_until

FAST = HealthSettings(stall_after_s=1.0, reconnect=ReconnectSettings(initial_s=0.1, max_s=0.3))
INVALID = "invalid data found when processing input"


@pytest.fixture
def silent_server() -> Iterator[int]:
    """A port that accepts connections (the kernel does) and never says a word."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(16)
        yield listener.getsockname()[1]


@pytest.fixture
def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture
def corrupt_mjpeg_server() -> Iterator[int]:
    """An HTTP MJPEG camera that sends ten good pictures, then garbage."""
    buffer = io.BytesIO()
    Image.fromarray(np.full((240, 320, 3), 99, np.uint8)).save(buffer, "JPEG")
    part = b"--frame\r\nContent-Type: image/jpeg\r\nContent-Length: %d\r\n\r\n%s\r\n" % (
        len(buffer.getvalue()),
        buffer.getvalue(),
    )

    def talk(connection: socket.socket) -> None:
        with connection:
            try:
                connection.recv(4096)
                connection.sendall(
                    b"HTTP/1.0 200 OK\r\nContent-Type: multipart/x-mixed-replace; boundary=frame\r\n\r\n"
                )
                for _ in range(10):
                    connection.sendall(part)
                    time.sleep(0.05)
                for _ in range(500):
                    connection.sendall(os.urandom(4096))
                    time.sleep(0.01)
            except OSError:
                pass

    def serve(listener: socket.socket) -> None:
        while True:
            try:
                connection, _ = listener.accept()
            except OSError:
                return
            threading.Thread(target=talk, args=(connection,), daemon=True).start()

    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(4)
        threading.Thread(target=serve, args=(listener,), daemon=True).start()
        yield listener.getsockname()[1]


def _truncated_mp4(tmp_path: Path) -> str:
    whole = write_video(tmp_path / "whole.mp4", frames=20, size=(320, 240)).read_bytes()
    (tmp_path / "truncated.mp4").write_bytes(whole[: len(whole) // 2])  # a recording cut off: no index
    return str(tmp_path / "truncated.mp4")


def _garbage_mp4(tmp_path: Path) -> str:
    (tmp_path / "garbage.mp4").write_bytes(random.Random(0).randbytes(50_000))
    return str(tmp_path / "garbage.mp4")


BROKEN_CAMERAS = {
    # case: (URL, the health changes the broken camera must report)
    "truncated mp4": (lambda tmp, ports: _truncated_mp4(tmp), [("offline", INVALID)]),
    "corrupt file": (lambda tmp, ports: _garbage_mp4(tmp), [("offline", INVALID)]),
    "corrupt stream": (
        lambda tmp, ports: f"http://127.0.0.1:{ports['corrupt']}/video",
        [("online", "receiving 320x240 frames"), ("offline", f"read error: {INVALID}")],
    ),
    "refused": (
        lambda tmp, ports: f"rtsp://user:secret@127.0.0.1:{ports['closed']}/cam",
        [("offline", "connection refused")],
    ),
    "never answers": (
        lambda tmp, ports: f"rtsp://127.0.0.1:{ports['silent']}/cam",
        [("offline", "no valid answer within 1 s")],
    ),
}


@pytest.mark.parametrize("case", list(BROKEN_CAMERAS))
def test_a_broken_camera_reports_why_and_leaves_a_healthy_one_alone(
    case: str, tmp_path: Path, silent_server: int, closed_port: int, corrupt_mjpeg_server: int
):
    make_url, expected = BROKEN_CAMERAS[case]
    url = make_url(tmp_path, {"silent": silent_server, "closed": closed_port, "corrupt": corrupt_mjpeg_server})
    healthy_clip = write_video(tmp_path / "healthy.mp4", frames=10, size=(160, 120), fps=20.0)
    broken_changes: list[HealthChange] = []
    healthy_changes: list[HealthChange] = []
    broken = camera_source("broken", Camera(url=url), FAST, broken_changes.append)
    healthy = camera_source("healthy", Camera(url=str(healthy_clip), loop=True), FAST, healthy_changes.append)
    with healthy, broken:
        assert wait_until(lambda: len(broken_changes) >= len(expected), timeout=4)
        started, frames_before = time.monotonic(), healthy.stats().frames_in
        time.sleep(0.5)  # the broken camera keeps failing and retrying meanwhile
        rate = (healthy.stats().frames_in - frames_before) / (time.monotonic() - started)
        broken_stats = broken.stats()
    assert [(c.state, c.reason) for c in broken_changes][: len(expected)] == expected  # then it may recover
    assert "secret" not in repr(broken_changes)
    assert broken_stats.reconnects >= 1
    assert [c.state for c in healthy_changes] == ["online"]
    assert rate > 12, f"the healthy 20 fps camera slowed to {rate:.1f} fps"


def test_a_refusing_camera_is_retried_with_growing_waits(closed_port: int):
    health = HealthSettings(stall_after_s=1.0, reconnect=ReconnectSettings(initial_s=0.1, max_s=0.4))
    camera = Camera(url=f"rtsp://127.0.0.1:{closed_port}/cam")
    with camera_source("door", camera, health, rng=random.Random(0)) as source:
        time.sleep(1.5)
        reconnects = source.stats().reconnects
    # Waits of 0.1, then up to 0.2, 0.4, 0.4, ...: 4 to 8 attempts fit in 1.5 s; no backoff would make hundreds.
    assert 3 <= reconnects <= 9


def test_stop_returns_promptly_while_the_camera_hangs():
    slow_timeout = HealthSettings(stall_after_s=30.0)
    changes: list[HealthChange] = []
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(4)
        camera = Camera(url=f"rtsp://127.0.0.1:{listener.getsockname()[1]}/cam")
        source = camera_source("door", camera, slow_timeout, changes.append).start()
        time.sleep(0.3)  # blocked in FFmpeg, waiting for an answer
        started = time.monotonic()
        ended = source.stop(timeout=0.5)
        assert time.monotonic() - started < 1.0
        assert not ended  # still inside FFmpeg: a daemon thread that will publish nothing
    # Closing the listener resets the connection, so the blocked open returns and the thread ends.
    assert wait_until(lambda: source.stop(timeout=0.1), timeout=5)
    assert changes == []
