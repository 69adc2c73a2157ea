"""`gunwatch reload` (and the SIGHUP it sends) to a real `gunwatch watch` process: a camera added to the site
file starts while the first one keeps running; one removed is `stopped`. Real processes, SQLite, looping
file cameras and the site's own detector.
"""

from __future__ import annotations

import signal
import subprocess
import sys
from pathlib import Path

from gunwatch.events.store import EventStore
from gunwatch.events.store.runs import RunLog
from support.stand_in import grey_clip
from support.waiting import wait_while_running


def start_watch(site: Path) -> subprocess.Popen[str]:
    log = site.with_suffix(".log").open("a")  # a file: a pipe nobody reads would fill and block the process
    return subprocess.Popen([sys.executable, "-m", "gunwatch.cli", "watch", "--config", str(site), "--status-every",
                             "0"], stdout=subprocess.DEVNULL, stderr=log, text=True)


def log_of(site: Path) -> str:
    return site.with_suffix(".log").read_text()[-3000:]


def gunwatch(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "gunwatch.cli", *args], capture_output=True, text=True, timeout=120)


def site_text(folder: Path, cameras: list[str]) -> str:
    lines = [f'  {name}: {{url: "{folder / (name + ".mp4")}", loop: true, detect: {{fps: 2}}}}' for name in cameras]
    return "\n".join(["cameras:", *lines, f"""evidence: {{folder: "{folder / 'evidence'}"}}
store: {{url: "sqlite:///{folder / 'events.db'}"}}
"""])


def test_gunwatch_reload_makes_the_running_watch_add_a_camera_and_stop_a_removed_one(tmp_path: Path) -> None:
    for index, name in enumerate(("lobby", "dock", "yard")):
        grey_clip(tmp_path / f"{name}.mp4", 60 + 20 * index)
    site = tmp_path / "site.yaml"
    site.write_text(site_text(tmp_path, ["lobby", "dock"]))
    watch = start_watch(site)
    store = EventStore(f"sqlite:///{tmp_path / 'events.db'}")
    try:
        def states() -> dict[str, str | None]:
            return {camera.name: camera.state for camera in store.camera_status()}

        assert wait_while_running(lambda: states() == {"lobby": "online", "dock": "online"}, watch), log_of(site)
        site.write_text(site_text(tmp_path, ["lobby", "yard"]))
        asked = gunwatch("reload", "--config", str(site))
        assert asked.returncode == 0, asked.stderr
        assert f"{watch.pid}" in asked.stderr

        assert wait_while_running(lambda: states() == {"lobby": "online", "dock": "stopped", "yard": "online"},
                                  watch), log_of(site)
        assert "reload of" in log_of(site) and "added yard; removed dock" in log_of(site)
        [run] = RunLog(store).unfinished()
        assert run.pid == watch.pid and run.cameras == ("lobby", "yard")

        site.write_text(site_text(tmp_path, ["lobby", "yard"]).replace("fps: 2", "fps: zero", 1))
        watch.send_signal(signal.SIGHUP)  # refused: the log names the key, the cameras go on
        assert wait_while_running(lambda: "cameras.lobby.detect.fps" in log_of(site), watch), log_of(site)
        assert states() == {"lobby": "online", "dock": "stopped", "yard": "online"}
    finally:
        watch.send_signal(signal.SIGTERM)
        assert watch.wait() == 0, log_of(site)
    assert states() == {"lobby": "stopped", "dock": "stopped", "yard": "stopped"}  # the run's end: those it watched
    store.close()


def test_a_reload_asked_while_the_watch_starts_is_applied_once_it_runs(tmp_path: Path) -> None:
    """`gunwatch reload` finds the watch by its run in the store, written before the cameras open: a SIGHUP from
    then on must not end the watch (SIGHUP's default action), and the file read again must be applied."""
    for index, name in enumerate(("lobby", "dock")):
        grey_clip(tmp_path / f"{name}.mp4", 60 + 20 * index)
    site = tmp_path / "site.yaml"
    site.write_text(site_text(tmp_path, ["lobby"]))
    store = EventStore(f"sqlite:///{tmp_path / 'events.db'}")
    watch = start_watch(site)
    try:
        assert wait_while_running(lambda: bool(RunLog(store).unfinished()), watch), log_of(site)
        site.write_text(site_text(tmp_path, ["lobby", "dock"]))
        watch.send_signal(signal.SIGHUP)  # what `gunwatch reload` sends

        def both_online() -> bool:
            return {camera.name: camera.state for camera in store.camera_status()} == {"lobby": "online",
                                                                                       "dock": "online"}

        assert wait_while_running(both_online, watch), log_of(site)
    finally:
        watch.send_signal(signal.SIGTERM)
        assert watch.wait() == 0, log_of(site)
    store.close()


def test_gunwatch_reload_says_when_no_watch_of_the_site_runs(tmp_path: Path) -> None:
    grey_clip(tmp_path / "lobby.mp4", 60)
    site = tmp_path / "site.yaml"
    site.write_text(site_text(tmp_path, ["lobby"]))
    EventStore(f"sqlite:///{tmp_path / 'events.db'}").close()

    asked = gunwatch("reload", "--config", str(site))

    assert asked.returncode == 1 and f"no watch of {site} runs on this host" in asked.stderr
