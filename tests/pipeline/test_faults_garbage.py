"""Fault: cameras sending garbage, beside a good one, in the watch service (issue 12 item 5).

Real sources (FFmpeg through PyAV) on real bytes: a file of random bytes named .mp4, an RTSP address whose
server answers every connection with random bytes, and an HTTP MJPEG camera whose pictures are random bytes.
Each must give a health change naming it (stored as its state, with a reason) and never be online; the good
camera goes on analysing and its event is stored. The model is a stand-in (support/stand_in.py). Every wait
is on a condition; its bound is reached only when the code is wrong.
"""

from __future__ import annotations

import os
import random
import socket
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from gunwatch.config import parse_site_config
from gunwatch.events.model import ThreatEvent
from gunwatch.events.store import EventStore
from gunwatch.pipeline.analysis import FrameAnalyzer
from gunwatch.pipeline.watch import WatchService
from gunwatch.video.health import HealthChange
from support.stand_in import GunWhileHeld, grey_clip
from support.waiting import wait_until

WAIT_S = 60.0
JUNK = ("junk_file", "junk_rtsp", "junk_mjpeg")
MJPEG_HEADER = b"HTTP/1.0 200 OK\r\nContent-Type: multipart/x-mixed-replace; boundary=frame\r\n\r\n"


@pytest.fixture
def garbage_server() -> Iterator[Callable[[bytes], int]]:
    """`garbage_server(header)`: the port of a TCP server on loopback that reads a request, sends `header`, then
    random bytes (as MJPEG parts when `header` is an HTTP answer) until the client goes away."""
    listeners: list[socket.socket] = []

    def talk(connection: socket.socket, header: bytes) -> None:
        with connection:
            try:
                connection.recv(4096)
                connection.sendall(header)
                while True:
                    junk = os.urandom(4096)
                    part = b"--frame\r\nContent-Type: image/jpeg\r\nContent-Length: %d\r\n\r\n%s\r\n" % (
                        len(junk), junk)
                    connection.sendall(part if header else junk)
                    threading.Event().wait(0.02)  # a camera's pace, not a flood
            except OSError:
                pass

    def serve(listener: socket.socket, header: bytes) -> None:
        while True:
            try:
                connection, _ = listener.accept()
            except OSError:
                return
            threading.Thread(target=talk, args=(connection, header), daemon=True).start()

    def start(header: bytes) -> int:
        listener = socket.socket()
        listener.bind(("127.0.0.1", 0))
        listener.listen(4)
        listeners.append(listener)
        threading.Thread(target=serve, args=(listener, header), daemon=True).start()
        return listener.getsockname()[1]

    yield start
    for listener in listeners:
        listener.close()


def test_cameras_sending_garbage_each_report_a_health_change_and_the_good_one_goes_on(
    tmp_path: Path, garbage_server: Callable[[bytes], int],
) -> None:
    junk_file = tmp_path / "junk.mp4"
    # Seeded, not os.urandom: now and then fresh random bytes happen to pass FFmpeg's format probe and fail
    # later in decoding with another error (CI once saw "operation not permitted"); these fail the probe.
    junk_file.write_bytes(random.Random(0).randbytes(200_000))
    site = parse_site_config(f"""
cameras:
  good: {{url: "{grey_clip(tmp_path / 'good.mp4', 80)}", loop: true, detect: {{fps: 5}}}}
  junk_file: {{url: "{junk_file}"}}
  junk_rtsp: {{url: "rtsp://127.0.0.1:{garbage_server(b'')}/cam"}}
  junk_mjpeg: {{url: "http://127.0.0.1:{garbage_server(MJPEG_HEADER)}/video.mjpg"}}
motion: {{enabled: false}}
confirmation: {{close_after_s: 0.5}}
evidence: {{folder: "{tmp_path / 'evidence'}", pre_roll_s: 1, post_roll_s: 1}}
store: {{url: "sqlite:///{tmp_path / 'events.db'}"}}
health: {{stall_after_s: 2, reconnect: {{initial_s: 0.2, max_s: 1}}}}
""")
    model = GunWhileHeld()
    health: list[HealthChange] = []
    events: list[ThreatEvent] = []
    store = EventStore(site.store.url)
    service = WatchService(site, FrameAnalyzer(model, 64), store, events.append, health.append).start()
    try:
        def reported(camera: str) -> bool:
            return any(change.camera == camera and change.state in ("offline", "stalled") for change in health)

        assert wait_until(lambda: all(reported(camera) for camera in JUNK), WAIT_S), [str(h) for h in health]
        good = next(loop for loop in service.loops if loop.name == "good")
        before = good.counters.analysed
        model.gun.set()
        assert wait_until(lambda: any(e.camera == "good" and e.state == "open" for e in events), WAIT_S)
        assert wait_until(lambda: good.counters.analysed >= before + 10, WAIT_S)

        def stored() -> dict[str, tuple[str, str | None]]:
            return {status.name: (status.state, status.reason) for status in store.camera_status()}

        assert wait_until(lambda: all(stored().get(c, ("",))[0] in ("offline", "stalled") for c in JUNK), WAIT_S)
    finally:
        service.stop()
        service.close()
    statuses = {status.name: status for status in store.camera_status()}
    store.close()
    for camera in JUNK:
        changes = [change for change in health if change.camera == camera]
        assert changes and all(change.state != "online" for change in changes), changes
        assert all(change.reason for change in changes)  # each says why
        assert statuses[camera].state in ("offline", "stalled") and statuses[camera].reason
    # The reasons say what is wrong with each: not a video, not the protocol, pictures that do not decode.
    assert any(c.reason == "invalid data found when processing input" for c in health if c.camera == "junk_file")
    # FFmpeg gives up on the RTSP handshake as invalid data, or it runs out of time: never a plain "no answer".
    assert all(c.reason.startswith("no valid answer within") or c.reason == "invalid data found when processing input"
               for c in health if c.camera == "junk_rtsp")
    assert any("decode error" in c.reason for c in health if c.camera == "junk_mjpeg")
    assert [change.state for change in health if change.camera == "good"] == ["online"]
    assert statuses["good"].state == "online"
    assert any(event.camera == "good" for event in events)
    assert not any(event.camera in JUNK for event in events)
