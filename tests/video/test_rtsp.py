"""A real RTSP camera on loopback (GStreamer's RTSP server): online, frames, an outage, and back."""

from __future__ import annotations

import time

import pytest

from gunwatch.config import Camera
from gunwatch.config.sections import HealthSettings, ReconnectSettings
from gunwatch.video.frame import Frame
from gunwatch.video.health import HealthChange
from gunwatch.video.sources import CameraSource, camera_source
from support.rtsp_server import RtspServer, require_gst_rtsp, rtsp_server_fixture  # noqa: F401 - `rtsp_server`
from support.waiting import MIN_TIMEOUT_S, seconds_until

# Reconnects at most 1 s apart, so that the printed "back after" measures the source, not a long backoff.
HEALTH = HealthSettings(stall_after_s=3.0, reconnect=ReconnectSettings(initial_s=0.2, max_s=1.0))


def take_frames(source: CameraSource, count: int, after: int = -1, timeout: float = MIN_TIMEOUT_S) -> list[Frame]:
    frames: list[Frame] = []
    deadline = time.monotonic() + timeout
    while len(frames) < count and time.monotonic() < deadline:
        if frame := source.wait(after=frames[-1].index if frames else after, timeout=0.5):
            frames.append(frame)
    return frames


@pytest.mark.parametrize("transport", ["tcp", "udp"])
def test_an_rtsp_camera_comes_online_and_frames_flow(rtsp_server: RtspServer, transport: str):
    changes: list[HealthChange] = []
    camera = Camera(url=rtsp_server.url, rtsp_transport=transport)
    with camera_source("street", camera, HEALTH, changes.append) as source:
        assert seconds_until(lambda: source.state == "online", MIN_TIMEOUT_S) is not None
        frames = take_frames(source, 16)
    assert len(frames) == 16
    assert frames[0].size == (320, 240)
    timed = [f for f in frames if f.pts is not None]
    stamps = [f.pts for f in timed]
    assert len(stamps) >= 10 and stamps == sorted(stamps)  # the server loops a 3 s clip; stamps keep rising
    # The pace in stream time, which no machine's speed changes (the wall clock's is the server's): each frame
    # decoded, the ones the mailbox replaced included (index), is the next 0.1 s of the 10 fps stream (within a
    # fifth: over UDP a packet, and so a frame, may be lost; a frame counted twice would make it 0.05).
    first, last = timed[0], timed[-1]
    assert first.pts is not None and last.pts is not None
    assert (last.pts - first.pts) / (last.index - first.index) == pytest.approx(0.1, rel=0.2)
    assert [(c.state, c.reason) for c in changes] == [("online", "receiving 320x240 frames")]


def test_an_h265_camera_is_decoded(tmp_path):
    # Many cameras stream H.265 (HEVC) by default: the same source reads it, pictures intact.
    from support.turned_photos import picture_with_square, white_box
    from support.videos import write_hevc_video

    require_gst_rtsp()
    clip = write_hevc_video(tmp_path / "hevc.mp4", picture_with_square(320, 240, (32, 48, 96, 112)))
    server = RtspServer(clip, codec="h265").start()
    changes: list[HealthChange] = []
    try:
        with camera_source("garage", Camera(url=server.url), HEALTH, changes.append) as source:
            frames = take_frames(source, 5)
    finally:
        server.stop()
    assert len(frames) == 5
    assert all(frame.size == (320, 240) for frame in frames)
    for frame in frames:  # lossy coding may shift an edge by a pixel, never lose or move the square
        assert white_box(frame.image) == pytest.approx([32, 48, 96, 112], abs=2)
    assert changes[0].state == "online"


@pytest.mark.slow
def test_an_outage_takes_the_camera_offline_and_it_comes_back(rtsp_server: RtspServer):
    changes: list[HealthChange] = []
    with camera_source("street", Camera(url=rtsp_server.url), HEALTH, changes.append) as source:
        assert seconds_until(lambda: source.state == "online", MIN_TIMEOUT_S) is not None
        before = take_frames(source, 3)
        assert len(before) == 3

        rtsp_server.stop()
        down = seconds_until(lambda: source.state in ("offline", "stalled"), MIN_TIMEOUT_S)
        assert down is not None, "still online long after the server stopped"
        reconnects = source.stats().reconnects

        rtsp_server.start()
        up = seconds_until(lambda: source.state == "online", MIN_TIMEOUT_S)
        assert up is not None, f"not back online after the restart ({source.stats()})"
        after = take_frames(source, 5, after=before[-1].index)
        stats = source.stats()
    assert len(after) == 5 and after[0].index > before[-1].index
    assert stats.reconnects > reconnects
    assert [c.state for c in changes] == ["online", "offline", "online"]
    print(f"offline after {down:.2f} s ({changes[1].reason}), online {up:.2f} s after the restart")


@pytest.mark.slow
def test_a_hung_camera_stalls_then_goes_offline_and_recovers(rtsp_server: RtspServer):
    health = HealthSettings(stall_after_s=1.5, reconnect=ReconnectSettings(initial_s=0.2, max_s=0.5))
    changes: list[HealthChange] = []
    with camera_source("street", Camera(url=rtsp_server.url), health, changes.append) as source:
        assert seconds_until(lambda: source.state == "online", MIN_TIMEOUT_S) is not None
        rtsp_server.freeze()  # the connection stays open, nothing more arrives
        stalled = seconds_until(lambda: source.state == "stalled", MIN_TIMEOUT_S)
        offline = seconds_until(lambda: source.state == "offline", MIN_TIMEOUT_S)  # the reconnect gets no answer
        rtsp_server.thaw()
        up = seconds_until(lambda: source.state == "online", MIN_TIMEOUT_S)
        # No time limit: the reader's thread ended at all (woken, not left behind in FFmpeg) when stopped.
        assert source.stop(timeout=60)
    assert [c.state for c in changes] == ["online", "stalled", "offline", "online"]
    assert changes[0].reason == changes[3].reason == "receiving 320x240 frames"
    # Where the freeze cut a packet in two, the stall also names the last decode error: "no frame for 1.5 s
    # (decode error: invalid data found when processing input)" (seen once in CI).
    assert changes[1].reason.startswith("no frame for 1.5 s")
    assert changes[2].reason == "no valid answer within 1.5 s"
    assert stalled is not None and offline is not None and up is not None
    print(f"stalled after {stalled:.2f} s, offline {offline:.2f} s later, online {up:.2f} s after the thaw")
