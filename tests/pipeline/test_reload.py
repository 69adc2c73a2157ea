"""Live reload of the site file: cameras added, removed and restarted alone; a bad file refused whole.

Real file cameras (looping clips), the real watch service and store (SQLite); the model is a stand-in that
finds a handgun in the middle of every picture, so each camera opens an event within its first frames and,
with a long close_after_s, keeps it open. What must go on across a reload is waited for, never slept.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from gunwatch.config import ConfigError, parse_site_config
from gunwatch.events.model import ThreatEvent
from gunwatch.events.store import EventStore
from gunwatch.pipeline.analysis import FrameAnalyzer
from gunwatch.pipeline.reload import Reloader, ReloadPlan, alerts_swapper, plan_reload
from gunwatch.pipeline.watch import WatchService
from support.stand_in_cameras import GREY, RED, WAIT_S, GunInTheMiddle, write_clip
from support.waiting import wait_until


def site_text(tmp_path: Path, cameras: dict[str, float], detector: str = "{parallel: 2}") -> str:
    """A site file with a looping camera per name (at the fps given); `steady` plays grey, the others red."""
    lines = []
    for name, fps in cameras.items():
        clip = tmp_path / f"{'grey' if name == 'steady' else 'red'}.mp4"
        if not clip.exists():
            write_clip(clip, GREY if name == "steady" else RED)
        lines.append(f'  {name}: {{url: "{clip}", loop: true, detect: {{fps: {fps}, tiles: "off"}}}}')
    return "\n".join(["cameras:", *lines, f"""detector: {detector}
motion: {{enabled: false}}
confirmation: {{close_after_s: 600}}
evidence: {{folder: "{tmp_path / 'evidence'}", pre_roll_s: 1, post_roll_s: 1}}
store: {{url: "sqlite:///{tmp_path / 'events.db'}"}}
"""])


class Watching:
    """A running watch service of the site file at `path`, with its store and a reloader."""

    def __init__(self, path: Path, text: str) -> None:
        path.write_text(text)
        self.path = path
        self.events: list[ThreatEvent] = []
        site = parse_site_config(text, str(path))
        self.store = EventStore(site.store.url)
        self.service = WatchService(site, FrameAnalyzer(GunInTheMiddle(), 64), self.store, self.events.append)
        self.service.start()
        self.reloader = Reloader(path, self.service)

    def reload(self, text: str) -> ReloadPlan | None:
        self.path.write_text(text)
        return self.reloader.reload()

    def analysed(self, camera: str) -> int:
        return next(loop.counters.analysed for loop in self.service.loops if loop.name == camera)

    def open_event(self, camera: str) -> ThreatEvent | None:
        return next(loop.confirmer.event for loop in self.service.loops if loop.name == camera)

    def close(self) -> None:
        self.service.close()
        self.store.close()


Start = Callable[[str], "Watching"]  # a site file's text -> its watch, running


@pytest.fixture
def watching(tmp_path: Path) -> Iterator[Start]:
    made: list[Watching] = []
    yield lambda text: made.append(Watching(tmp_path / "site.yaml", text)) or made[-1]
    for each in made:
        each.close()


def keeps_analysing(watching: Watching, camera: str, frames: int = 3) -> bool:
    start = watching.analysed(camera)
    return wait_until(lambda: watching.analysed(camera) >= start + frames, WAIT_S)


def test_a_camera_added_and_one_removed_while_another_keeps_analysing_with_its_event_open(
    tmp_path: Path, watching: Start) -> None:
    watch = watching(site_text(tmp_path, {"steady": 5, "gone": 5}))
    assert wait_until(lambda: watch.open_event("steady") is not None and watch.open_event("gone") is not None,
                      WAIT_S)
    steady_loop, event_id = watch.service.loops[0], watch.open_event("steady").id
    before = watch.analysed("steady")

    plan = watch.reload(site_text(tmp_path, {"steady": 5, "added": 5}))

    assert plan is not None and plan.added == ("added",) and plan.removed == ("gone",) and plan.changed == ()
    assert [loop.name for loop in watch.service.loops] == ["steady", "added"]
    assert watch.service.loops[0] is steady_loop  # not restarted
    assert keeps_analysing(watch, "added")
    assert watch.analysed("steady") > before and keeps_analysing(watch, "steady")
    assert watch.open_event("steady").id == event_id  # its event stays open, the same one
    assert watch.service.store_writer.wait_idle(WAIT_S)
    states = {camera.name: camera.state for camera in watch.store.camera_status()}
    assert states["gone"] == "stopped"
    gone = watch.store.list_events(camera="gone")
    assert gone and all(event.state == "closed" for event in gone)  # no frame of it comes any more
    assert watch.store.get_event(event_id).state != "closed"


def test_a_changed_camera_is_restarted_alone(tmp_path: Path, watching: Start) -> None:
    watch = watching(site_text(tmp_path, {"steady": 5, "other": 5}))
    assert keeps_analysing(watch, "other") and keeps_analysing(watch, "steady")
    steady_loop, other_loop = watch.service.loops

    plan = watch.reload(site_text(tmp_path, {"steady": 5, "other": 2}))

    assert plan is not None and plan.changed == ("other",) and not plan.added and not plan.removed
    steady, other = watch.service.loops
    assert steady is steady_loop and other is not other_loop
    assert other.camera.detect.fps == 2
    assert keeps_analysing(watch, "other") and keeps_analysing(watch, "steady")
    assert not other_loop.source.running  # the old one's source stopped


def test_a_file_with_errors_is_refused_whole_and_the_cameras_go_on(
    tmp_path: Path, watching: Start, caplog: pytest.LogCaptureFixture) -> None:
    watch = watching(site_text(tmp_path, {"steady": 5}))
    assert keeps_analysing(watch, "steady")
    loops = list(watch.service.loops)
    broken = site_text(tmp_path, {"steady": 5, "added": 5}).replace("fps: 5, tiles", "fps: -1, tiles", 1)

    with caplog.at_level(logging.ERROR, logger="gunwatch.pipeline.reload"):
        assert watch.reload(broken) is None

    assert watch.service.loops == loops  # nothing added, nothing restarted
    assert keeps_analysing(watch, "steady")
    refused = [record.getMessage() for record in caplog.records]
    assert any(str(watch.path) in line and "cameras.steady.detect.fps" in line for line in refused), refused


def test_a_section_that_cannot_change_live_refuses_the_reload_saying_a_restart_is_needed(
    tmp_path: Path, watching: Start, caplog: pytest.LogCaptureFixture) -> None:
    watch = watching(site_text(tmp_path, {"steady": 5}))
    changed = site_text(tmp_path, {"steady": 5, "added": 5}, detector="{parallel: 1}")

    with caplog.at_level(logging.ERROR, logger="gunwatch.pipeline.reload"):
        assert watch.reload(changed) is None

    assert [loop.name for loop in watch.service.loops] == ["steady"]
    assert any("detector" in r.getMessage() and "restart" in r.getMessage() for r in caplog.records)


def test_the_plan_names_what_cannot_change_by_key(tmp_path: Path) -> None:
    old = parse_site_config(site_text(tmp_path, {"steady": 5}))
    new = parse_site_config(site_text(tmp_path, {"steady": 5}).replace(str(tmp_path / "events.db"),
                                                                        str(tmp_path / "other.db")))
    with pytest.raises(ConfigError) as refused:
        plan_reload(old, new, "site.yaml")
    assert [problem.key for problem in refused.value.problems] == ["store"]
    assert plan_reload(old, old, "site.yaml").empty


def test_alerts_added_to_a_watch_started_without_them_are_refused_until_a_restart(
    tmp_path: Path, watching: Start, caplog: pytest.LogCaptureFixture) -> None:
    watch = watching(site_text(tmp_path, {"steady": 5}))
    watch.reloader.on_alerts = alerts_swapper(watch.path, None)
    with_alerts = site_text(tmp_path, {"steady": 5, "added": 5}) + f"""alerts:
  channels: {{desk: {{url: "{(tmp_path / 'desk.jsonl').as_uri()}"}}}}
"""
    with caplog.at_level(logging.ERROR, logger="gunwatch.pipeline.reload"):
        assert watch.reload(with_alerts) is None

    assert [loop.name for loop in watch.service.loops] == ["steady"]
    assert any(f"{watch.path}: alerts: " in r.getMessage() and "restart" in r.getMessage() for r in caplog.records)
