"""The console end to end in a real browser (Debian's chromium driven by Playwright), against real processes:
`gunwatch serve` for the console, `gunwatch watch` on the bundled demo clip (a handgun from 3 s) with the
shipped model, a webhook receiver on loopback, one SQLite store.

The browser signs in before the watch starts, so the banner can only come by server push. Set
GUNWATCH_SCREENSHOTS=DIR to keep the screenshots the README shows.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from gunwatch.bench.browser import sign_in as sign_in_as
from gunwatch.events.store import EventStore
from gunwatch.users.store import UserStore
from support.http_receiver import HttpReceiver, http_receiver_fixture  # noqa: F401 - provides `http_receiver`
from support.smtp_server import free_port
from support.stand_in_cameras import GREY, write_clip
from support.waiting import wait_until

REPO = Path(__file__).resolve().parents[2]
DEMO_CLIP = REPO / "samples" / "demo" / "lobby.mp4"
PASSWORD = "correct horse battery"
WAIT_MS = 120_000  # the first event needs the model loaded and the gun seen; CI machines are slow
SHOTS = os.environ.get("GUNWATCH_SCREENSHOTS")


def site_file(folder: Path, name: str, receiver: str, console_port: int | None) -> Path:
    console = f"console: {{listen: '127.0.0.1:{console_port}'}}\n" if console_port else ""
    hall = write_clip(folder / "hall.mp4", GREY)
    path = folder / name
    path.write_text(f"""
cameras:
  lobby: {{url: "{DEMO_CLIP}", loop: true, detect: {{fps: 5}}}}
  hall: {{url: "{hall}", loop: true, detect: {{fps: 2}}}}
confirmation: {{min_hits: 2, window: 3, close_after_s: 60}}
evidence: {{folder: "{folder / 'evidence'}", pre_roll_s: 1, post_roll_s: 1}}
store: {{url: "sqlite:///{folder / 'events.db'}"}}
{console}alerts:
  site_name: School
  channels:
    hook: {{url: "{receiver}", signed: false, retry: {{initial_s: 0.1, max_s: 1, max_attempts: 20}}}}
  recipients:
    desk: {{name: Security desk}}
  protocols:
    respond:
      trigger: {{on: threat, cameras: [lobby]}}
      cooldown_s: 0
      steps:
        - notify: {{to: [desk], via: [hook]}}
""")
    return path


def start(*args: str, log: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen([sys.executable, "-m", "gunwatch.cli", *args], stdout=subprocess.DEVNULL,
                            stderr=log.open("wb"), cwd=REPO)


def stop(process: subprocess.Popen[bytes]) -> None:
    process.terminate()
    try:
        process.wait(60)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def healthy(url: str) -> bool:
    try:
        return httpx.get(f"{url}/healthz", timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


def sign_in(browser: Any, url: str, name: str) -> Any:
    return sign_in_as(browser, url, name, PASSWORD)


def shot(page: Any, name: str) -> None:
    if SHOTS:
        Path(SHOTS).mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(Path(SHOTS) / name))


@pytest.fixture
def site(tmp_path: Path, http_receiver: HttpReceiver) -> Iterator[dict[str, Any]]:
    port, watch_port = free_port(), free_port()
    files = {"serve": site_file(tmp_path, "serve.yaml", http_receiver.url(), port),
             "watch": site_file(tmp_path, "watch.yaml", http_receiver.url(), watch_port)}
    with EventStore(f"sqlite:///{tmp_path / 'events.db'}") as store:
        users = UserStore(store)
        users.add_user("olga", "operator", PASSWORD)
        users.add_user("vic", "viewer", PASSWORD)
        users.add_user("hal", "operator", PASSWORD, cameras=["hall"])
    yield {"files": files, "url": f"http://127.0.0.1:{port}", "watch_url": f"http://127.0.0.1:{watch_port}",
           "folder": tmp_path}


def test_an_alert_pops_up_a_false_alarm_cancels_it_and_the_event_names_who(browser: Any, site: dict[str, Any],
                                                                          http_receiver: HttpReceiver) -> None:
    url, folder = site["url"], site["folder"]
    serve = start("serve", "--config", str(site["files"]["serve"]), log=folder / "serve.log")
    watch = None
    try:
        assert wait_until(lambda: healthy(url), 60), (folder / "serve.log").read_text()
        olga, vic, hal = (sign_in(browser, url, name) for name in ("olga", "vic", "hal"))
        assert olga.locator(".alert").count() == 0
        olga.evaluate("window.notReloaded = true")  # gone if the page reloads: the banner must come pushed

        watch = start("watch", "--config", str(site["files"]["watch"]), "--status-every", "0",
                      log=folder / "watch.log")
        olga.wait_for_selector(".alert.unacted", timeout=WAIT_MS)
        assert olga.evaluate("window.notReloaded") is True
        event_id = olga.get_attribute(".alert.unacted", "data-event")
        assert olga.locator(".alert.unacted").inner_text().startswith("Gun on lobby")
        [alert] = http_receiver.wait_for(1, timeout=60)
        assert alert.json["kind"] == "alert"
        shot(olga, "console-banner.png")

        # The viewer sees it, with no buttons, and cannot act through the form either.
        vic.wait_for_selector(f'.alert[data-event="{event_id}"]', timeout=WAIT_MS)
        assert vic.locator(f'.alert[data-event="{event_id}"] button').count() == 0
        csrf = vic.get_attribute('meta[name="csrf-token"]', "content")
        refused = vic.request.post(f"{url}/events/{event_id}/act", form={"csrf": csrf, "action": "false_alarm"},
                                   headers={"Accept": "application/json"})
        assert refused.status == 403

        # A user without the lobby camera never sees the event, in pages or the API.
        hal.goto(f"{url}/events")
        assert event_id not in hal.content()
        assert hal.request.get(f"{url}/api/events/{event_id}").status == 404

        # The wall of a console without the cameras shows them once the watch registered them (pushed).
        olga.wait_for_selector(".tile[data-camera=lobby] .badge.online", timeout=WAIT_MS)

        olga.keyboard.press("a")  # acknowledge: the alert stays, no longer sounding
        olga.wait_for_selector(f'.alert[data-event="{event_id}"]:not(.unacted)', timeout=WAIT_MS)
        assert "acknowledged by user:olga" in olga.inner_text(f'.alert[data-event="{event_id}"]')

        olga.fill(f'.alert[data-event="{event_id}"] input[name=note]', "a phone in a holster")
        olga.click(f'.alert[data-event="{event_id}"] button[value=false_alarm]')
        olga.wait_for_selector(f'.alert[data-event="{event_id}"]', state="detached", timeout=WAIT_MS)
        assert wait_until(lambda: any(r.json and r.json.get("kind") == "cancel" for r in http_receiver.requests),
                          60), "the cancel did not reach the webhook"

        olga.goto(f"{url}/events/{event_id}")
        olga.wait_for_load_state("load")
        for which in ("annotated", "snapshot"):
            answer = olga.request.get(f"{url}/api/events/{event_id}/{which}")
            assert answer.status == 200 and answer.body()[:2] == b"\xff\xd8", (which, answer.status)
        # An image the page swapped in after `load` (a pushed update) may still be fetching: wait until every
        # image has finished, loaded or failed, then none may be broken.
        olga.wait_for_function("[...document.querySelectorAll('main img')].every(i => i.complete)", timeout=WAIT_MS)
        broken = olga.evaluate("[...document.querySelectorAll('main img')].filter(i => !i.naturalWidth)"
                               ".map(i => i.src)")
        assert broken == []
        story = olga.inner_text("main")
        assert "false alarm" in story and "user:olga" in story
        shot(olga, "console-event.png")
    finally:
        if watch is not None:
            stop(watch)
        stop(serve)


def test_the_live_wall_of_a_watch_shows_frames_with_health_only_to_those_who_may_see_them(
        browser: Any, site: dict[str, Any]) -> None:
    folder, url = site["folder"], site["watch_url"]
    watch = start("watch", "--config", str(site["files"]["watch"]), "--status-every", "0", log=folder / "watch.log")
    try:
        assert wait_until(lambda: healthy(url), 120), (folder / "watch.log").read_text()
        olga = sign_in(browser, url, "olga")
        olga.wait_for_function("document.querySelector('.tile[data-camera=lobby] img').naturalWidth > 0",
                               timeout=WAIT_MS)
        assert olga.locator(".tile[data-camera=hall]").count() == 1
        frame = olga.request.get(f"{url}/api/cameras/lobby/frame.jpg")
        assert frame.status == 200 and frame.body()[:2] == b"\xff\xd8"
        olga.reload()
        olga.wait_for_selector(".tile[data-camera=lobby] .badge.online", timeout=WAIT_MS)
        shot(olga, "console-wall.png")

        hal = sign_in(browser, url, "hal")
        assert hal.locator(".tile[data-camera=lobby]").count() == 0
        assert hal.locator(".tile[data-camera=hall]").count() == 1
        assert hal.request.get(f"{url}/api/cameras/lobby/frame.jpg").status == 404
    finally:
        stop(watch)


def test_on_a_phone_the_alert_and_its_buttons_fit_the_screen(browser: Any, tmp_path: Path) -> None:
    """A 390x844 screen (a phone held upright): the banner's picture, facts and all four buttons show without
    scrolling sideways; the events table scrolls inside its own box."""
    from gunwatch.alerts.event_actions import EventActions
    from gunwatch.config.console import ConsoleSettings
    from gunwatch.web.app import create_app
    from gunwatch.web.server import LinkServer
    from gunwatch.web.site import Console
    from service.conftest import threat

    with EventStore(f"sqlite:///{tmp_path / 'events.db'}") as store:
        UserStore(store).add_user("olga", "operator", PASSWORD)
        store.save_event(threat("lobby", zone="front door"))
        actions = EventActions(store)
        console = Console.build(store, actions, ConsoleSettings())
        try:
            with LinkServer(create_app(store, actions, None, console=console), "127.0.0.1", 0) as server:
                page = sign_in_as(browser, server.url, "olga", PASSWORD, viewport=(390, 844))
                for path in ("/", "/events", "/cameras"):
                    page.goto(f"{server.url}{path}")
                    page.wait_for_selector(".alert.unacted button[value=false_alarm]")
                    width = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
                    assert width <= 0, f"{path} scrolls sideways by {width} px"
                    for action in ("confirm", "false_alarm", "ack", "resolve"):
                        assert page.locator(f".alert button[value={action}]").is_visible()
                shot(page, "console-phone.png")
        finally:
            console.close()


def test_a_note_being_typed_survives_a_new_alert_arriving(browser: Any, tmp_path: Path) -> None:
    """The banner is redrawn whenever something changes; a new alert shows at once, and the note an operator
    is typing for the first one stays, with the focus."""
    from gunwatch.alerts.event_actions import EventActions
    from gunwatch.config.console import ConsoleSettings
    from gunwatch.web.app import create_app
    from gunwatch.web.server import LinkServer
    from gunwatch.web.site import Console
    from service.conftest import threat

    with EventStore(f"sqlite:///{tmp_path / 'events.db'}") as store:
        UserStore(store).add_user("olga", "operator", PASSWORD)
        first = threat("lobby")
        store.save_event(first)
        actions = EventActions(store)
        console = Console.build(store, actions, ConsoleSettings())
        try:
            with LinkServer(create_app(store, actions, None, console=console), "127.0.0.1", 0) as server:
                page = sign_in_as(browser, server.url, "olga", PASSWORD)
                note = f'.alert[data-event="{first.id}"] input[name=note]'
                page.click(note)
                page.keyboard.type("man with a phone")
                second = threat("hall")
                store.save_event(second)
                console.wake()
                page.wait_for_selector(f'.alert[data-event="{second.id}"]', timeout=WAIT_MS)
                assert page.input_value(note) == "man with a phone"
                page.keyboard.type(", not a gun")  # the focus stayed in the note
                assert page.input_value(note) == "man with a phone, not a gun"
        finally:
            console.close()
