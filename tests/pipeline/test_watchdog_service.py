"""The watchdog on the real watch service: a reader, a detector call and a clip encoder that hang are restarted,
each reported as the camera's health (stored), and the camera goes on.

Real file sources, the real watch service and SQLite store; the model is a stand-in that finds a handgun in the
middle of every picture. Every hang is a threading.Event the test holds until the end: what must happen
meanwhile is waited for, never slept.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from gunwatch.config import parse_site_config
from gunwatch.config.camera import Camera
from gunwatch.config.site import SiteConfig
from gunwatch.events import clips
from gunwatch.events.store import EventStore
from gunwatch.pipeline.analysis import FrameAnalyzer
from gunwatch.pipeline.watch import WatchService
from gunwatch.pipeline.watchdog_service import Watchdog
from gunwatch.video.health import HealthChange
from gunwatch.video.sources import READERS, RawFrame, ReadContext
from gunwatch.video.sources.file import FileReader
from support.stand_in_cameras import GREY, RED, WAIT_S, GunInTheMiddle, write_clip
from support.waiting import wait_until


def make_site(tmp_path: Path, watchdog: str, stall_after_s: float = 10.0, post_roll_s: float = 1.0) -> SiteConfig:
    lobby = write_clip(tmp_path / "lobby.mp4", GREY)
    yard = write_clip(tmp_path / "yard.mp4", RED)
    return parse_site_config(f"""
cameras:
  lobby: {{url: "{lobby}", loop: true, detect: {{fps: 5, tiles: "off"}}}}
  yard: {{url: "{yard}", loop: true, detect: {{fps: 5, tiles: "on"}}}}
detector: {{parallel: 2}}
motion: {{enabled: false}}
confirmation: {{close_after_s: 60}}
evidence: {{folder: "{tmp_path / 'evidence'}", pre_roll_s: 1, post_roll_s: {post_roll_s}}}
store: {{url: "sqlite:///{tmp_path / 'events.db'}"}}
health: {{stall_after_s: {stall_after_s}, watchdog: {{every_s: 0.05, {watchdog}}}}}
""")


class Running:
    """The watch service and its watchdog, the store, and the health changes heard."""

    def __init__(self, site: SiteConfig, model: GunInTheMiddle) -> None:
        self.store = EventStore(site.store.url)
        self.health: list[HealthChange] = []
        self.service = WatchService(site, FrameAnalyzer(model, 64), self.store, on_health=self.health.append).start()
        self.watchdog = Watchdog(self.service).start()

    def close(self) -> None:
        self.watchdog.stop()
        self.service.close()
        self.store.close()

    def analysed(self, camera: str) -> int:
        return next(loop.counters.analysed for loop in self.service.loops if loop.name == camera)

    def heard(self, camera: str) -> list[tuple[str, str]]:
        return [(change.state, change.reason) for change in list(self.health) if change.camera == camera]

    def stored(self, camera: str) -> list[tuple[str, str]]:
        """The camera's health as stored, oldest first, once the store writer caught up."""
        assert self.service.store_writer.wait_idle(WAIT_S)
        [status] = [c for c in self.store.camera_status(recent=10) if c.name == camera]
        return [(change.state, change.reason) for change in reversed(status.recent)]


@pytest.fixture
def held() -> Iterator[list[threading.Event]]:
    """Hangs the test holds: released at the end whatever happened, so no thread is left waiting."""
    holds: list[threading.Event] = []
    yield holds
    for hold in holds:
        hold.set()


def restarts_shown(running: Running, camera: str) -> int:
    return next(row.restarts for row in running.service.status() if row.camera == camera)


def test_a_hung_detector_call_is_given_up_its_camera_reported_stalled_then_online_and_analysed_again(
    tmp_path: Path, held: list[threading.Event],
) -> None:
    hold = threading.Event()
    held.append(hold)
    model = GunInTheMiddle(hold)
    running = Running(make_site(tmp_path, "detector_call_s: 0.5"), model)
    try:
        assert model.held.wait(WAIT_S)
        assert wait_until(lambda: any(state == "stalled" for state, _ in running.heard("yard")), WAIT_S)
        before = running.analysed("yard")
        assert wait_until(lambda: running.analysed("yard") > before, WAIT_S), "yard was not analysed again"
        assert wait_until(lambda: running.heard("yard")[-1][0] == "online", WAIT_S)
        states = running.heard("yard")
        assert [state for state, _ in states] == ["online", "stalled", "online"]
        assert states[1][1].startswith("detector call hung: a call of 1 frames") and "given up by the watchdog" in \
            states[1][1]
        assert "analysed again" in states[2][1]
        assert running.stored("yard") == states  # in the store too (the camera-offline protocol hears it)
        assert not hold.is_set() and running.service.detector.abandoned == 1  # still hung, left behind
        assert running.watchdog.restarts["detector call"] == 1 and restarts_shown(running, "yard") == 1
        assert restarts_shown(running, "lobby") == 0 and [s for s, _ in running.heard("lobby")] == ["online"]
        assert running.watchdog.alive()
    finally:
        hold.set()
        running.close()


class HangingReader:
    """The camera's real file reader, except that its first connection hangs after a few frames in a read that no
    stop reaches (a driver or network call without a timeout) until `hold` is set."""

    def __init__(self, camera: Camera, hold: threading.Event, hung: threading.Event) -> None:
        self.reader, self.hold, self.hung = FileReader(camera), hold, hung
        self.connections = 0

    def frames(self, context: ReadContext) -> Iterator[RawFrame]:
        self.connections += 1
        for index, frame in enumerate(self.reader.frames(context)):
            if self.connections == 1 and index == 5:
                self.hung.set()
                assert self.hold.wait(WAIT_S), "the test never released the reader"
                return
            yield frame


def test_a_hung_reader_is_reopened_its_camera_reported_stalled_then_online_and_analysed_again(
    tmp_path: Path, held: list[threading.Event], monkeypatch: pytest.MonkeyPatch,
) -> None:
    hold, hung = threading.Event(), threading.Event()
    held.append(hold)
    readers: dict[str, HangingReader] = {}

    def reader(camera: Camera) -> HangingReader:
        return readers.setdefault(camera.url, HangingReader(camera, hold, hung))

    monkeypatch.setitem(READERS, "file", reader)
    running = Running(make_site(tmp_path, "reader_grace_s: 0.3", stall_after_s=0.3), GunInTheMiddle())
    try:
        assert hung.wait(WAIT_S)
        assert wait_until(lambda: any(state == "stalled" for state, _ in running.heard("lobby")), WAIT_S)
        before = running.analysed("lobby")
        assert wait_until(lambda: running.analysed("lobby") > before, WAIT_S), "lobby was not analysed again"
        assert wait_until(lambda: running.heard("lobby")[-1][0] == "online", WAIT_S)
        states = running.heard("lobby")
        assert [state for state, _ in states] == ["online", "stalled", "online"]
        assert states[1][1].startswith("reader hung: neither a frame nor a failure") and "reopened" in states[1][1]
        assert running.stored("lobby")[1] == states[1]
        source = next(loop.source for loop in running.service.loops if loop.name == "lobby")
        assert source.stats().restarts == 1 and restarts_shown(running, "lobby") == 1
        assert running.watchdog.restarts["reader"] >= 1  # yard's reader hung too (the same reader script)
    finally:
        hold.set()
        running.close()


def test_a_hung_clip_encoding_is_given_up_its_camera_reported_degraded_and_the_encoder_goes_on(
    tmp_path: Path, held: list[threading.Event], monkeypatch: pytest.MonkeyPatch,
) -> None:
    hold, hung = threading.Event(), threading.Event()
    held.append(hold)
    real_write_clip = clips.write_clip

    def hanging_encoder(*args: Any, **kwargs: Any) -> float:
        if not hung.is_set():  # the first clip only
            hung.set()
            assert hold.wait(WAIT_S), "the test never released the encoder"
        return real_write_clip(*args, **kwargs)

    monkeypatch.setattr(clips, "write_clip", hanging_encoder)
    running = Running(make_site(tmp_path, "clip_s: 0.5", post_roll_s=0.2), GunInTheMiddle())
    try:
        assert hung.wait(WAIT_S)
        assert wait_until(lambda: any(state == "degraded" for c in ("lobby", "yard") for state, _ in running.heard(c)),
                          WAIT_S)
        [camera] = [c for c in ("lobby", "yard") if any(state == "degraded" for state, _ in running.heard(c))]
        states = running.heard(camera)
        assert [state for state, _ in states] == ["online", "degraded", "online"]
        assert states[1][1].startswith("clip hung: clip of event ") and "the clip is lost" in states[1][1]
        assert states[2][1].endswith("clip encoder restarted by the watchdog")
        assert running.service.encoder.restarts == 1 and restarts_shown(running, camera) == 1
        # The other camera's clip is written by the new encoder thread while the first still hangs.
        other = "yard" if camera == "lobby" else "lobby"
        assert wait_until(lambda: any(e.camera == other and e.evidence.clip for e in running.store.list_events()),
                          WAIT_S)
        assert running.stored(camera)[-2:] == states[-2:]
    finally:
        hold.set()
        running.close()
