"""A camera's reconnect backoff starts over once frames flow again: after an outage that grew the waits, the
next failure waits the first delay again, not the grown one.

The waits come from the source's own `rng`, which records each wait's ceiling and always draws the shortest
wait, so the test sees the backoff's state without timing anything. The cameras are real: a video file that
is missing, then there, then gone, and an RTSP server that is stopped, started and stopped.
"""

from __future__ import annotations

import os
import random
from pathlib import Path

from gunwatch.config import Camera
from gunwatch.config.sections import HealthSettings, ReconnectSettings
from gunwatch.video.health import HealthChange
from gunwatch.video.sources import CameraSource, camera_source
from support.rtsp_server import RtspServer, rtsp_server_fixture  # noqa: F401 - provides `rtsp_server`
from support.videos import write_video
from support.waiting import wait_until

FIRST_S = 0.05
HEALTH = HealthSettings(stall_after_s=3.0, reconnect=ReconnectSettings(initial_s=FIRST_S, max_s=30.0))
GROWN = [FIRST_S, 2 * FIRST_S, 4 * FIRST_S, 8 * FIRST_S]  # the ceilings of the first four waits


class RecordedWaits(random.Random):
    """The source's jitter: records each wait's ceiling, and draws the shortest wait (the first delay)."""

    def __init__(self) -> None:
        super().__init__(0)
        self.ceilings: list[float] = []

    def uniform(self, a: float, b: float) -> float:
        self.ceilings.append(b)
        return a


def frames_flowing(source: CameraSource, count: int = 3, timeout: float = 10.0) -> bool:
    start = source.stats().frames_in
    return wait_until(lambda: source.stats().frames_in >= start + count, timeout)


def test_a_video_file_back_after_failures_resets_the_backoff(tmp_path: Path) -> None:
    path = tmp_path / "door.mp4"  # not there yet: each attempt fails
    waits, changes = RecordedWaits(), list[HealthChange]()
    with camera_source("door", Camera(url=str(path), loop=True), HEALTH, changes.append, waits) as source:
        assert wait_until(lambda: len(waits.ceilings) >= len(GROWN))
        clip = write_video(tmp_path / "clip.mp4", frames=6, size=(160, 120), fps=20.0)
        os.replace(clip, path)  # whole at once: no attempt reads half a file
        assert frames_flowing(source)
        before = list(waits.ceilings)  # no failure while frames flow
        path.unlink()  # the loop's next pass cannot open it
        assert wait_until(lambda: len(waits.ceilings) > len(before))
        after = waits.ceilings[len(before)]
    assert before[: len(GROWN)] == GROWN  # the outage grew the waits ...
    assert after == FIRST_S  # ... and frames flowing started them over
    assert [c.state for c in changes[:3]] == ["offline", "online", "offline"]


def test_an_rtsp_camera_back_after_an_outage_resets_the_backoff(rtsp_server: RtspServer) -> None:
    rtsp_server.stop()  # refused until it starts
    waits, changes = RecordedWaits(), list[HealthChange]()
    with camera_source("street", Camera(url=rtsp_server.url), HEALTH, changes.append, waits) as source:
        assert wait_until(lambda: len(waits.ceilings) >= len(GROWN), timeout=10)
        rtsp_server.start()
        assert frames_flowing(source)
        before = list(waits.ceilings)
        rtsp_server.stop()
        assert wait_until(lambda: len(waits.ceilings) > len(before), timeout=10)
        after = waits.ceilings[len(before)]
    assert before[: len(GROWN)] == GROWN
    assert after == FIRST_S
    assert [c.state for c in changes[:2]] == ["offline", "online"]
