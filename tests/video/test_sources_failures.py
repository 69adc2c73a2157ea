"""Broken cameras: each goes offline with its reason, backs off, stops promptly, and leaves the others alone."""

from __future__ import annotations

import contextlib
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
from gunwatch.video.sources import CameraSource, camera_source
from support.videos import write_video
from support.waiting import wait_until

FAST = HealthSettings(stall_after_s=1.0, reconnect=ReconnectSettings(initial_s=0.1, max_s=0.3))
INVALID = "invalid data found when processing input"


class SilentServer:
    """A camera that takes connections and what is sent on them, and never says a word. What it received shows
    that a reader is connected and waiting for an answer (blocked inside FFmpeg)."""

    def __init__(self) -> None:
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port: int = self._listener.getsockname()[1]
        self._lock = threading.Lock()
        self._open: list[socket.socket] = []
        self._received: list[bytes] = []
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                connection, _ = self._listener.accept()
            except OSError:
                return
            with self._lock:
                self._open.append(connection)
            threading.Thread(target=self._listen, args=(connection,), daemon=True).start()

    def _listen(self, connection: socket.socket) -> None:
        with contextlib.suppress(OSError):
            while data := connection.recv(4096):
                with self._lock:
                    self._received.append(data)

    def requests(self) -> int:
        """How many pieces of a request arrived (on any connection)."""
        with self._lock:
            return len(self._received)

    def hang_up(self) -> None:
        """Close the port and every connection: a reader waiting for an answer gets an end instead."""
        self._listener.close()
        with self._lock:
            for connection in self._open:
                with contextlib.suppress(OSError):
                    connection.shutdown(socket.SHUT_RDWR)
                connection.close()


@pytest.fixture
def silent_server() -> Iterator[SilentServer]:
    server = SilentServer()
    try:
        yield server
    finally:
        server.hang_up()


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


def healthy_camera(tmp_path: Path, changes: list[HealthChange]) -> CameraSource:
    """A 20 fps recording played at its pace, looping."""
    clip = write_video(tmp_path / "healthy.mp4", frames=10, size=(160, 120), fps=20.0)
    return camera_source("healthy", Camera(url=str(clip), loop=True), FAST, changes.append)


@pytest.mark.parametrize("case", list(BROKEN_CAMERAS))
def test_a_broken_camera_reports_why_and_leaves_a_healthy_one_alone(
    case: str, tmp_path: Path, silent_server: SilentServer, refused_port: int, corrupt_mjpeg_server: int
):
    make_url, expected = BROKEN_CAMERAS[case]
    url = make_url(tmp_path, {"silent": silent_server.port, "closed": refused_port, "corrupt": corrupt_mjpeg_server})
    broken_changes: list[HealthChange] = []
    healthy_changes: list[HealthChange] = []
    broken = camera_source("broken", Camera(url=url), FAST, broken_changes.append)
    healthy = healthy_camera(tmp_path, healthy_changes)
    with healthy, broken:
        assert wait_until(lambda: len(broken_changes) >= len(expected), timeout=4)
        # The broken camera fails and retries twice more, and the healthy one goes on receiving (that it is not
        # held up while the other waits is the next test's).
        retried, frames = broken.stats().reconnects, healthy.stats().frames_in
        assert wait_until(lambda: broken.stats().reconnects >= retried + 2 and healthy.stats().frames_in > frames,
                          timeout=10)
    assert [(c.state, c.reason) for c in broken_changes][: len(expected)] == expected  # then it may recover
    assert "secret" not in repr(broken_changes)
    assert [c.state for c in healthy_changes] == ["online"]


def test_a_camera_waiting_for_an_answer_holds_up_no_other(tmp_path: Path, silent_server: SilentServer):
    """While one camera's reader is blocked inside FFmpeg for as long as its timeout lets it (30 s), another
    camera's frames keep coming: no lock, and no GIL held, across a camera's I/O."""
    waiting = camera_source("waiting", Camera(url=f"rtsp://127.0.0.1:{silent_server.port}/cam"),
                            HealthSettings(stall_after_s=30.0))
    healthy_changes: list[HealthChange] = []
    with healthy_camera(tmp_path, healthy_changes) as healthy, waiting:
        assert wait_until(lambda: silent_server.requests() > 0)  # asked, and waiting for the answer
        frames = healthy.stats().frames_in
        assert wait_until(lambda: healthy.stats().frames_in >= frames + 5, timeout=10)
        assert waiting.stats().state is None and waiting.stats().reconnects == 0  # still in its first attempt
        silent_server.hang_up()  # the waiting reader gets its answer (an end) and can stop
    assert [c.state for c in healthy_changes] == ["online"]


class RecordingRandom(random.Random):
    """Records each wait drawn: (lowest, highest, drawn)."""

    def __init__(self, seed: int) -> None:
        super().__init__(seed)
        self.draws: list[tuple[float, float, float]] = []

    def uniform(self, a: float, b: float) -> float:
        drawn = super().uniform(a, b)
        self.draws.append((a, b, drawn))
        return drawn


def test_a_refusing_camera_is_retried_with_growing_waits(refused_port: int):
    health = HealthSettings(stall_after_s=1.0, reconnect=ReconnectSettings(initial_s=0.1, max_s=0.4))
    camera = Camera(url=f"rtsp://127.0.0.1:{refused_port}/cam")
    rng = RecordingRandom(0)
    started = time.monotonic()
    with camera_source("door", camera, health, rng=rng) as source:
        assert wait_until(lambda: source.stats().reconnects >= 4, timeout=10)
        waited = time.monotonic() - started
        draws = rng.draws[:4]
    # Each attempt after a wait drawn up to 0.1, then 0.2, then 0.4 (the cap). A lower bound only, which no
    # machine is too slow for: the four attempts came no sooner than their waits allowed (no tight loop).
    assert [(low, high) for low, high, _ in draws] == [(0.1, 0.1), (0.1, 0.2), (0.1, 0.4), (0.1, 0.4)]
    assert waited >= sum(drawn for _, _, drawn in draws)


def test_stop_returns_while_the_camera_hangs(silent_server: SilentServer):
    """`stop` gives up on a reader blocked inside FFmpeg after its own timeout, not the camera's 30 s."""
    changes: list[HealthChange] = []
    camera = Camera(url=f"rtsp://127.0.0.1:{silent_server.port}/cam")
    source = camera_source("door", camera, HealthSettings(stall_after_s=30.0), changes.append).start()
    assert wait_until(lambda: silent_server.requests() > 0)  # blocked in FFmpeg, waiting for an answer
    assert not source.stop(timeout=0.5)  # returned with the reader still inside FFmpeg: it waited no longer
    # Hanging up ends the blocked open; the thread ends, a daemon that publishes nothing.
    silent_server.hang_up()
    assert wait_until(lambda: source.stop(timeout=0.1), timeout=5)
    assert changes == []
