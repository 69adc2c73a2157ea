"""The RTSP server fixture for tests: `gunwatch.bench.rtsp_server` (GStreamer's RTSP server in a separate process).

    server = RtspServer(clip).start()    # rtsp://127.0.0.1:PORT/cam, the clip's H.264 track, looping
    server.stop(); server.start()        # an outage: the same port and URL again afterwards
    server.freeze(); server.thaw()       # a hung camera: connections stay open, nothing is sent
    server.close()
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from gunwatch.bench.rtsp_server import APT_PACKAGES, RtspServer, gst_rtsp_missing
from support.videos import write_video

__all__ = ["APT_PACKAGES", "RtspServer", "gst_rtsp_missing", "require_gst_rtsp", "rtsp_server_fixture"]


def require_gst_rtsp() -> None:
    """Skips the test when GStreamer cannot serve RTSP here (fails it in CI, where it must)."""
    missing = gst_rtsp_missing()
    if missing:
        reason = f"needs GStreamer's RTSP server ({missing}); on Debian: apt-get install {APT_PACKAGES}"
        if os.environ.get("GUNWATCH_REQUIRE_RTSP") == "1":  # CI: a missing package must not pass unseen
            pytest.fail(f"RTSP tests required (GUNWATCH_REQUIRE_RTSP=1) but {reason}")
        pytest.skip(reason)


@pytest.fixture(name="rtsp_server")
def rtsp_server_fixture(tmp_path: Path) -> Iterator[RtspServer]:
    """`rtsp_server`: a running RtspServer looping a 3 s, 320x240, 10 fps clip; skips when GStreamer cannot
    serve RTSP. A test module imports `rtsp_server_fixture` to use it."""
    require_gst_rtsp()
    clip = write_video(tmp_path / "rtsp-clip.mp4", frames=30, size=(320, 240), fps=10.0)
    server = RtspServer(clip).start()
    try:
        yield server
    finally:
        server.stop()
