"""A camera whose packets keep coming but never decode is `stalled`, never `online`.

Real streams over HTTP on loopback, read by the real source (FFmpeg through PyAV): an MJPEG camera whose
pictures are garbage (each one a decode error), one that sends good pictures and then garbage, and an
MPEG-TS camera sending H.264 whose key frames are lost (the decoder skips every picture without a word).
The connection never goes quiet, so only the stall watch can tell; it must, within stall_after_s.
"""

from __future__ import annotations

import io
import random
import socket
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import av
import numpy as np
import pytest
from PIL import Image

from gunwatch.config import Camera
from gunwatch.config.sections import HealthSettings, ReconnectSettings
from gunwatch.video.health import HealthChange
from gunwatch.video.sources import CameraSource, camera_source
from support.videos import write_video
from support.waiting import wait_until

STALL_S = 1.5
HEALTH = HealthSettings(stall_after_s=STALL_S, reconnect=ReconnectSettings(initial_s=0.1, max_s=0.3))

# One connection's content: (bytes, seconds to wait after sending them) for each piece, after the header.
Pieces = Callable[[], Iterator[tuple[bytes, float]]]


@pytest.fixture
def serve() -> Iterator[Callable[[str, Pieces], str]]:
    """`serve(content_type, pieces)`: the URL of an HTTP server on loopback that answers every connection with
    `content_type` and then `pieces()`, until they end or the client goes."""
    listeners: list[socket.socket] = []

    def talk(connection: socket.socket, content_type: str, pieces: Pieces) -> None:
        with connection:
            try:
                connection.recv(4096)
                connection.sendall(f"HTTP/1.0 200 OK\r\nContent-Type: {content_type}\r\n\r\n".encode())
                for data, pause in pieces():
                    connection.sendall(data)
                    time.sleep(pause)  # the camera's pace, not a wait for a result
            except OSError:
                pass

    def accept(listener: socket.socket, content_type: str, pieces: Pieces) -> None:
        while True:
            try:
                connection, _ = listener.accept()
            except OSError:
                return
            threading.Thread(target=talk, args=(connection, content_type, pieces), daemon=True).start()

    def start(content_type: str, pieces: Pieces) -> str:
        listener = socket.socket()
        listener.bind(("127.0.0.1", 0))
        listener.listen(8)
        listeners.append(listener)
        threading.Thread(target=accept, args=(listener, content_type, pieces), daemon=True).start()
        return f"http://127.0.0.1:{listener.getsockname()[1]}"

    yield start
    for listener in listeners:
        listener.close()


def mjpeg_part(data: bytes) -> bytes:
    return b"--frame\r\nContent-Type: image/jpeg\r\nContent-Length: %d\r\n\r\n%s\r\n" % (len(data), data)


def mjpeg(good: int) -> Pieces:
    """`good` real JPEG pictures, then well-framed parts of random bytes, 50 a second for 20 s."""
    buffer = io.BytesIO()
    Image.fromarray(np.full((120, 160, 3), 99, np.uint8)).save(buffer, "JPEG")

    def pieces() -> Iterator[tuple[bytes, float]]:
        rng = random.Random(0)
        for _ in range(good):
            yield mjpeg_part(buffer.getvalue()), 0.05
        for _ in range(1000):
            yield mjpeg_part(rng.randbytes(3000)), 0.02

    return pieces


def h264_ts_without_key_frames(tmp_path: Path, seconds: int = 20) -> Pieces:
    """An MPEG-TS stream of a real H.264 clip (10 fps) with its IDR slices removed: packets with the stream's
    parameter sets and P slices, none the decoder can start from, so it returns no picture and no error."""
    clip = write_video(tmp_path / "clip.mp4", frames=10 * seconds, size=(160, 120), fps=10.0)
    buffer = io.BytesIO()
    with av.open(str(clip)) as source, av.open(buffer, "w", format="mpegts") as output:
        video = source.streams.video[0]
        stream = output.add_stream_from_template(video)
        stream.codec_context.extradata = None  # in-band parameter sets only (Annex B)
        annex_b = av.BitStreamFilterContext("h264_mp4toannexb", video)
        for packet in source.demux(video):
            for filtered in annex_b.filter(None if packet.dts is None else packet):
                kept = av.Packet(_without_idr_slices(bytes(filtered)))
                kept.pts, kept.dts, kept.time_base, kept.stream = filtered.pts, filtered.dts, filtered.time_base, stream
                output.mux(kept)
    data = buffer.getvalue()
    step = len(data) // (10 * seconds)

    def pieces() -> Iterator[tuple[bytes, float]]:
        for start in range(0, len(data), step):
            yield data[start : start + step], 0.1

    return pieces


def _without_idr_slices(annex_b: bytes) -> bytes:
    starts = []
    at = annex_b.find(b"\x00\x00\x01")
    while at >= 0:
        starts.append(at)
        at = annex_b.find(b"\x00\x00\x01", at + 3)
    units = [annex_b[begin:end] for begin, end in zip(starts, [*starts[1:], len(annex_b)], strict=True)]
    return b"".join(unit for unit in units if unit[3] & 0x1F != 5)  # 5: a slice of an IDR picture


def reconnected_twice(source: CameraSource) -> bool:
    """Two connections have ended: had either decoded a picture, `online` would have been reported first."""
    return wait_until(lambda: source.stats().reconnects >= 2, timeout=30)


def test_garbage_pictures_that_keep_coming_stall_the_camera(serve: Callable[[str, Pieces], str]) -> None:
    url = serve("multipart/x-mixed-replace; boundary=frame", mjpeg(good=0))
    changes: list[HealthChange] = []
    with camera_source("door", Camera(url=f"{url}/video.mjpg"), HEALTH, changes.append) as source:
        assert reconnected_twice(source)
        stats = source.stats()
    assert [(c.state, c.reason) for c in changes] == [
        ("stalled", f"no frame for {STALL_S:g} s (decode error: invalid data found when processing input)")]
    assert stats.frames_in == 0 and stats.decode_errors >= 10  # packets came, and none decoded


def test_a_camera_that_turns_to_garbage_goes_from_online_to_stalled(serve: Callable[[str, Pieces], str]) -> None:
    url = serve("multipart/x-mixed-replace; boundary=frame", mjpeg(good=10))
    changes: list[HealthChange] = []
    with camera_source("door", Camera(url=f"{url}/video.mjpg"), HEALTH, changes.append) as source:
        assert wait_until(lambda: len(changes) >= 2, timeout=15)
        stats = source.stats()
    assert [c.state for c in changes[:2]] == ["online", "stalled"]
    assert changes[1].reason.startswith(f"no frame for {STALL_S:g} s (decode error:")
    assert stats.decode_errors >= 1


def test_h264_without_key_frames_stalls_the_camera(serve: Callable[[str, Pieces], str], tmp_path: Path) -> None:
    url = serve("video/mp2t", h264_ts_without_key_frames(tmp_path))
    changes: list[HealthChange] = []
    with camera_source("yard", Camera(url=f"{url}/live.ts"), HEALTH, changes.append) as source:
        assert reconnected_twice(source)
        stats = source.stats()
    assert [(c.state, c.reason) for c in changes] == [("stalled", f"no frame for {STALL_S:g} s")]
    assert stats.frames_in == 0
