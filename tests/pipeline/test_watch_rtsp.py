"""The live pipeline over a real RTSP server (GStreamer) streaming the demo clip with a handgun.

An event opens; the server stops and the camera goes offline; the server starts again, the camera is
online again and events resume (the seconds each took are printed; how fast is the benchmarks' question).
About 40 s.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest

from gunwatch.config import parse_site_config
from gunwatch.events.model import ThreatEvent
from gunwatch.events.store import EventStore
from gunwatch.inference.loading import load_detector
from gunwatch.pipeline.analysis import FrameAnalyzer
from gunwatch.pipeline.watch import WatchService
from gunwatch.video.health import HealthChange
from support.rtsp_server import RtspServer, gst_rtsp_missing
from support.waiting import MIN_TIMEOUT_S, seconds_until, wait_until

DEMO = Path(__file__).resolve().parents[2] / "samples" / "demo" / "lobby.mp4"


@pytest.mark.slow
def test_rtsp_camera_event_outage_and_recovery(tmp_path: Path) -> None:
    missing = gst_rtsp_missing()
    if missing:
        pytest.skip(f"needs GStreamer's RTSP server ({missing})")
    server = RtspServer(DEMO, name="lobby", log=tmp_path / "rtsp.log").start()
    site = parse_site_config(f"""
cameras:
  lobby: {{url: "{server.url}", detect: {{fps: 5}}}}
confirmation: {{min_hits: 3, window: 5, close_after_s: 1.5}}
evidence: {{folder: "{tmp_path / 'evidence'}", pre_roll_s: 1, post_roll_s: 1}}
store: {{url: "sqlite:///{tmp_path / 'events.db'}"}}
health: {{stall_after_s: 3, reconnect: {{initial_s: 0.2, max_s: 1}}}}
""")
    events: list[ThreatEvent] = []
    health: list[HealthChange] = []
    store = EventStore(site.store.url)
    service = WatchService(site, FrameAnalyzer(load_detector(None, threads=1), 416), store, events.append,
                           health.append).start()
    runner = threading.Thread(target=service.run, daemon=True)
    runner.start()
    try:
        opened = lambda: {e.id for e in events if e.state == "open"}  # noqa: E731
        assert wait_until(lambda: len(opened()) >= 1), f"no event; health: {health}"
        first_events = opened()

        stopped = time.time()  # taken before: the client may notice the end before stop() returns
        server.stop()
        went_offline = seconds_until(lambda: any(h.state != "online" and h.at >= stopped for h in health),
                                     MIN_TIMEOUT_S)
        assert went_offline is not None, f"still online long after the server stopped: {health}"

        restarted = time.time()
        server.start()
        back = seconds_until(lambda: any(h.state == "online" and h.at >= restarted for h in health),
                             MIN_TIMEOUT_S)
        assert back is not None, f"not online long after the server came back: {health}"
        print(f"offline {went_offline:.2f} s after the server stopped, online {back:.2f} s after it came back")
        # The stream starts again from the clip's beginning: the gun is back about 3 s into it.
        assert wait_until(lambda: len(opened() - first_events) >= 1), "events did not resume"
    finally:
        service.stop()
        runner.join(10)
        service.close()
        server.stop()
    stored = store.list_events()
    assert len(stored) >= 2
    assert {status.name: status.state for status in store.camera_status()}["lobby"] == "online"
    store.close()
