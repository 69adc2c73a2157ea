"""Cameras isolated: a detector call, a store or an evidence disk that hangs holds up no other camera's analysis.

Real file sources, the real watch service, store (SQLite) and evidence files; the model is a stand-in that
finds a handgun in the middle of every picture, so each camera confirms an event within its first frames,
and that hangs, when the test says so, on the pictures of one camera. Every hang is a threading.Event the
test holds; what must go on meanwhile is waited for, and released the hang is waited out, never slept.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from gunwatch.config import parse_site_config
from gunwatch.config.site import SiteConfig
from gunwatch.events.evidence import write_snapshots
from gunwatch.events.model import ThreatEvent
from gunwatch.events.store import EventStore
from gunwatch.inference.detections import Detections
from gunwatch.pipeline import evidence_writer
from gunwatch.pipeline.analysis import FrameAnalyzer
from gunwatch.pipeline.camera_loop import LoopCounters
from gunwatch.pipeline.watch import WatchService
from support.stand_in_cameras import write_clip
from support.waiting import wait_until

WAIT_S = 60.0  # a bound for what must happen, on a loaded machine; reached only when the code is wrong
RED = (200, 30, 30)
CAMERAS = ("cheap", "slow")


class GunInTheMiddle:
    """A stand-in model: a handgun box in the middle of every picture, score 0.9. A mostly red picture (the
    `slow` camera's) first waits for `release`, when one is given: a detector call that hangs."""

    name, class_names, threshold = "stand-in", ("person", "handgun"), 0.5

    def __init__(self, release: threading.Event | None = None) -> None:
        self.release = release
        self.held = threading.Event()

    def detect(self, images: list[np.ndarray]) -> list[Detections]:
        if self.release is not None and any(image[..., 0].mean() > 150 > image[..., 1].mean() for image in images):
            self.held.set()
            assert self.release.wait(WAIT_S), "the test never released the detector"
        return [Detections([[0.4 * i.shape[1], 0.4 * i.shape[0], 0.6 * i.shape[1], 0.6 * i.shape[0]]], [0.9], [1])
                for i in images]


def site(tmp_path: Path, slow_tiles: str = "off") -> SiteConfig:
    cheap = write_clip(tmp_path / "cheap.mp4", (90, 90, 90))
    slow = write_clip(tmp_path / "slow.mp4", RED)
    return parse_site_config(f"""
cameras:
  cheap: {{url: "{cheap}", loop: true, detect: {{fps: 5, tiles: "off"}}}}
  slow: {{url: "{slow}", loop: true, detect: {{fps: 5, tiles: "{slow_tiles}"}}}}
detector: {{parallel: 2}}
motion: {{enabled: false}}
confirmation: {{close_after_s: 60}}
evidence: {{folder: "{tmp_path / 'evidence'}", pre_roll_s: 1, post_roll_s: 1}}
store: {{url: "sqlite:///{tmp_path / 'events.db'}"}}
""")


@dataclass
class Heard:
    """Listeners that set an event per camera when its threat event is stored (`opened`), handed to the alerts
    (`alerted`), and handed to them with its snapshot (`pictured`)."""

    opened: dict[str, threading.Event] = field(default_factory=lambda: {c: threading.Event() for c in CAMERAS})
    alerted: dict[str, threading.Event] = field(default_factory=lambda: {c: threading.Event() for c in CAMERAS})
    pictured: dict[str, threading.Event] = field(default_factory=lambda: {c: threading.Event() for c in CAMERAS})
    first_alert: threading.Event = field(default_factory=threading.Event)

    def on_event(self, event: ThreatEvent) -> None:
        if event.state == "open":
            self.opened[event.camera].set()

    def on_evidence(self, event: ThreatEvent) -> None:
        if event.evidence.snapshot is not None:
            assert Path(event.evidence.snapshot).is_file()
            self.pictured[event.camera].set()
        self.alerted[event.camera].set()
        self.first_alert.set()



class HeldStore(EventStore):
    """A real SQLite store whose event writes first wait for `release`: a database that hangs."""

    def __init__(self, url: str) -> None:
        super().__init__(url)
        self.release = threading.Event()
        self.held = threading.Event()

    def save_event(self, event: ThreatEvent) -> None:
        self.held.set()
        assert self.release.wait(WAIT_S), "the test never released the store"
        super().save_event(event)


@pytest.fixture
def released() -> Iterator[list[threading.Event]]:
    """Hangs the test holds: released at the end whatever happened, so no thread is left waiting."""
    holds: list[threading.Event] = []
    yield holds
    for hold in holds:
        hold.set()


def counters(service: WatchService, camera: str) -> LoopCounters:
    return next(loop.counters for loop in service.loops if loop.name == camera)


def keeps_analysing(service: WatchService, camera: str, frames: int = 3) -> bool:
    start = counters(service, camera).analysed
    return wait_until(lambda: counters(service, camera).analysed >= start + frames, WAIT_S)


def test_a_detector_call_that_hangs_on_one_cameras_frame_holds_up_no_other_camera(
    tmp_path: Path, released: list[threading.Event],
) -> None:
    release = threading.Event()
    released.append(release)
    model = GunInTheMiddle(release)
    heard = Heard()
    store = EventStore(f"sqlite:///{tmp_path / 'events.db'}")
    # Tiles on: the slow camera's frames never share a call with the cheap one's (another tile mode).
    service = WatchService(site(tmp_path, slow_tiles="on"), FrameAnalyzer(model, 64), store, heard.on_event,
                           on_evidence=heard.on_evidence).start()
    try:
        assert model.held.wait(WAIT_S), "the slow camera's frame never reached the detector"
        assert heard.opened["cheap"].wait(WAIT_S), "the cheap camera raised no event while the other's call hung"
        assert heard.pictured["cheap"].wait(WAIT_S)
        assert keeps_analysing(service, "cheap")
        assert counters(service, "slow").analysed == 0 and not heard.opened["slow"].is_set()  # still held
        release.set()
        assert heard.opened["slow"].wait(WAIT_S), "released, the slow camera went on"
    finally:
        release.set()
        service.close()
    assert {event.camera for event in store.list_events()} == set(CAMERAS)
    store.close()


def test_a_store_that_hangs_holds_up_no_cameras_analysis_and_everything_is_written_once_it_answers(
    tmp_path: Path, released: list[threading.Event],
) -> None:
    heard = Heard()
    store = HeldStore(f"sqlite:///{tmp_path / 'events.db'}")
    released.append(store.release)
    service = WatchService(site(tmp_path), FrameAnalyzer(GunInTheMiddle(), 64), store, heard.on_event,
                           on_evidence=heard.on_evidence).start()
    try:
        assert store.held.wait(WAIT_S)
        for camera in CAMERAS:
            # Raised and handed to the alerts with its snapshot, while not one event write got through.
            assert heard.pictured[camera].wait(WAIT_S), f"{camera}: no event while the store hung"
            assert counters(service, camera).events == 1 and keeps_analysing(service, camera)
        assert store.list_events() == [] and not any(h.is_set() for h in heard.opened.values())
        assert service.writers()[0].waiting >= 2  # both cameras' events, waiting for the store
        store.release.set()
        assert service.evidence_writer.wait_idle(WAIT_S) and service.store_writer.wait_idle(WAIT_S)
        stored = {event.camera: event for event in store.list_events()}
        assert set(stored) == set(CAMERAS) and all(heard.opened[c].is_set() for c in CAMERAS)
        for event in stored.values():
            assert event.state == "open" and event.evidence.snapshot and Path(event.evidence.snapshot).is_file()
    finally:
        store.release.set()
        service.close()
    store.close()


def test_an_evidence_disk_that_hangs_holds_up_no_cameras_analysis_nor_the_store_nor_the_alerts(
    tmp_path: Path, released: list[threading.Event], monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The first snapshot's write hangs (a disk that stopped answering): both cameras' events are stored and
    handed to the alerts without their snapshots, while it hangs; released, the snapshots follow."""
    hold, held = threading.Event(), threading.Event()
    released.append(hold)

    def hanging_disk(*args: Any, **kwargs: Any) -> tuple[Path, Path]:
        held.set()
        assert hold.wait(WAIT_S), "the test never released the evidence disk"
        return write_snapshots(*args, **kwargs)

    monkeypatch.setattr(evidence_writer, "write_snapshots", hanging_disk)
    heard = Heard()
    store = EventStore(f"sqlite:///{tmp_path / 'events.db'}")
    service = WatchService(site(tmp_path), FrameAnalyzer(GunInTheMiddle(), 64), store, heard.on_event,
                           on_evidence=heard.on_evidence).start()
    try:
        assert held.wait(WAIT_S)  # the evidence writer is now held
        for camera in CAMERAS:
            assert heard.opened[camera].wait(WAIT_S), f"{camera}: its event was not stored while the disk hung"
            assert heard.alerted[camera].wait(WAIT_S), f"{camera}: its alert waited for the disk"
            assert keeps_analysing(service, camera)
        assert service.writers()[1].waiting >= 1 and not any(p.is_set() for p in heard.pictured.values())
        assert {event.camera for event in store.list_events()} == set(CAMERAS)
        hold.set()
        assert service.evidence_writer.wait_idle(WAIT_S) and service.store_writer.wait_idle(WAIT_S)
        assert all(heard.pictured[c].is_set() for c in CAMERAS)
        assert all(event.evidence.snapshot for event in store.list_events())
    finally:
        hold.set()
        service.close()
    store.close()
