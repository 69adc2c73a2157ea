"""`gunwatch bench console`: how fast an alert reaches an open console, and what the live wall costs.

1. Banner latency: a console signed in, in a real browser (chromium through Playwright) on the events page;
   threat events are committed to the store one at a time, as the pipeline's store writer commits them, and
   the browser notes (a MutationObserver, on the same machine's clock) when each one's alert is drawn in the
   banner. Two ways the news travels: `woken` (inside `gunwatch watch`: the store writer wakes the console's
   feed) and `polled` (`gunwatch serve` on another machine: the feed notices the row at its next poll). Each
   event is resolved before the next, so the banner holds one alert.
2. Wall cost: `cameras` file cameras (the demo clip, looped) in the watch service with the shipped model and
   the console in the same process, for `seconds` with no browser, then `seconds` with the live wall open:
   the process's CPU (cores busy) and frames analysed, with and without the wall, and the frames encoded for
   the wall with the CPU their encoding took. The run without the wall is the reference. The browser runs on
   the same machine here (a console is usually elsewhere): its own rendering competes for the cores.
"""

from __future__ import annotations

import random
import resource
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from gunwatch.alerts.event_actions import EventActions
from gunwatch.bench.browser import launched_chromium, sign_in
from gunwatch.bench.pipeline_latency import Spread
from gunwatch.config.console import ConsoleSettings
from gunwatch.config.site import SiteConfig
from gunwatch.events.model import ThreatEvent
from gunwatch.events.store import EventStore
from gunwatch.users.store import UserStore
from gunwatch.web.app import create_app
from gunwatch.web.server import LinkServer
from gunwatch.web.site import Console

REPOSITORY = Path(__file__).resolve().parents[3]
DEMO_CLIP = REPOSITORY / "samples" / "demo" / "lobby.mp4"
USER, PASSWORD = "bench", "a bench password 1"
# Notes when each alert first shows in the banner, by event id, in epoch milliseconds (the page's own clock).
OBSERVER = """() => {
  window.drawn = {};
  const note = () => document.querySelectorAll('.alert[data-event]').forEach((alert) => {
    const id = alert.dataset.event;
    if (!(id in window.drawn)) window.drawn[id] = performance.timeOrigin + performance.now();
  });
  new MutationObserver(note).observe(document.getElementById('banner'), {childList: true, subtree: true});
}"""


@dataclass(frozen=True)
class BannerLatency:
    mode: str  # woken / polled
    events: int
    spread: Spread  # seconds from the row committed to the alert drawn


@dataclass(frozen=True)
class WallCost:
    cameras: int
    seconds: float
    cores_without: float
    cores_with: float
    analysed_without: int
    analysed_with: int
    frames_encoded: int
    encode_cores: float  # CPU the wall's pictures took on the server (seconds per second)


@dataclass(frozen=True)
class ConsoleBench:
    latency: list[BannerLatency]
    wall: WallCost | None


def banner_latency(events: int, poll_s: float, browser: Any, progress: Callable[[str], None] = print
                   ) -> list[BannerLatency]:
    results = []
    with tempfile.TemporaryDirectory(prefix="gunwatch-bench-console-") as folder:
        for mode in ("woken", "polled"):
            store = EventStore(f"sqlite:///{Path(folder) / f'{mode}.db'}")
            UserStore(store).add_user(USER, "operator", PASSWORD)
            actions = EventActions(store)
            console = Console.build(store, actions, ConsoleSettings())
            console.feed.poll_s = poll_s
            server = LinkServer(create_app(store, actions, None, console=console), "127.0.0.1", 0).start()
            try:
                page = sign_in(browser, server.url, USER, PASSWORD)
                page.goto(f"{server.url}/events")
                page.wait_for_function("() => !document.body.classList.contains('offline')")
                page.evaluate(OBSERVER)
                seconds = []
                for index in range(events):
                    time.sleep(random.uniform(0.0, poll_s))  # no lockstep with the feed's polls
                    event = _event(index)
                    store.save_event(event)
                    committed = time.time()
                    if mode == "woken":
                        console.wake()
                    page.wait_for_function(f"() => window.drawn['{event.id}'] !== undefined", timeout=30_000)
                    seconds.append(page.evaluate(f"window.drawn['{event.id}']") / 1000 - committed)
                    actions.resolve(event.id, "bench")
                    page.wait_for_selector(f'.alert[data-event="{event.id}"]', state="detached", timeout=30_000)
                results.append(BannerLatency(mode, events, Spread.of(seconds)))
                progress(f"  {mode}: p50 {results[-1].spread.p50 * 1000:.0f} ms over {events} alerts")
                page.context.close()
            finally:
                server.stop()
                console.close()
                store.close()
    return results


def wall_cost(cameras: int, seconds: float, browser: Any, progress: Callable[[str], None] = print) -> WallCost:
    from gunwatch.pipeline.live_view import PipelineLiveView
    from gunwatch.pipeline.watch_command import build_service

    with tempfile.TemporaryDirectory(prefix="gunwatch-bench-wall-") as folder:
        site = _wall_site(Path(folder), cameras)
        store = EventStore(site.store.url)
        UserStore(store).add_user(USER, "viewer", PASSWORD)
        service = build_service(site, None, None, store)
        live = PipelineLiveView(service)
        actions = EventActions(store)
        assert site.console is not None
        console = Console.build(store, actions, site.console, live)
        server = LinkServer(create_app(store, actions, None, console=console), "127.0.0.1", 0).start()
        service.start()
        try:
            time.sleep(min(10.0, seconds))  # warm up: the model's first calls, the sources' first frames
            cores_without, analysed_without = _measure(service, seconds)
            progress(f"  without the wall: {cores_without:.2f} cores, {analysed_without} frames analysed")
            page = sign_in(browser, server.url, USER, PASSWORD, viewport=(1920, 1080))
            page.wait_for_function("() => document.querySelectorAll('.tile img[src]').length > 0")
            encoded, encode_cpu_s = live.encoded, live.encode_cpu_s
            cores_with, analysed_with = _measure(service, seconds)
            encoded, encode_cores = live.encoded - encoded, (live.encode_cpu_s - encode_cpu_s) / seconds
            page.context.close()
            progress(f"  with the wall: {cores_with:.2f} cores, {analysed_with} frames analysed, {encoded} encoded")
        finally:
            service.stop()
            server.stop()
            console.close()
            service.close()
            store.close()
    return WallCost(cameras, seconds, cores_without, cores_with, analysed_without, analysed_with, encoded,
                    encode_cores)


def run_console_bench(events: int = 30, cameras: int = 16, seconds: float = 30.0, poll_s: float = 0.2,
                      progress: Callable[[str], None] = print, browser: Any = None) -> ConsoleBench:
    """`browser`: a Playwright Browser to use (default: chromium launched here; BrowserMissing without it)."""
    if browser is None:
        with launched_chromium() as launched:
            return run_console_bench(events, cameras, seconds, poll_s, progress, launched)
    progress(f"banner latency: {events} alerts, woken and polled (every {poll_s:g} s)")
    latency = banner_latency(events, poll_s, browser, progress)
    wall = None
    if cameras > 0:
        progress(f"wall cost: {cameras} cameras, {seconds:g} s without the wall, then {seconds:g} s with it")
        wall = wall_cost(cameras, seconds, browser, progress)
    return ConsoleBench(latency, wall)


def console_table(bench: ConsoleBench) -> str:
    lines = ["| banner | alerts | p50 | p95 | max | target |", "| --- | --- | --- | --- | --- | --- |"]
    for row in bench.latency:
        s = row.spread
        lines.append(f"| {row.mode} | {row.events} | {s.p50 * 1000:.0f} ms | {s.p95 * 1000:.0f} ms | "
                     f"{s.max * 1000:.0f} ms | <= 300 ms |")
    wall = bench.wall
    if wall is not None:
        lines += ["", "| live wall | watch CPU (cores) | frames analysed | wall frames encoded | encoding CPU |",
                  "| --- | --- | --- | --- | --- |",
                  f"| {wall.cameras} cameras, no browser (reference) | {wall.cores_without:.2f} | "
                  f"{wall.analysed_without} | 0 | 0 |",
                  f"| {wall.cameras} cameras, wall open | {wall.cores_with:.2f} "
                  f"({_ratio(wall.cores_with, wall.cores_without)}) | {wall.analysed_with} "
                  f"({_ratio(wall.analysed_with, wall.analysed_without)}) | {wall.frames_encoded} | "
                  f"{wall.encode_cores:.3f} |"]
    return "\n".join(lines)


def _ratio(value: float, reference: float) -> str:
    return f"{value / reference:.2f}x" if reference else "-"


def _measure(service: Any, seconds: float) -> tuple[float, int]:
    """Cores busy (process CPU seconds per second) and frames analysed over `seconds`."""
    before_cpu, before_analysed, started = _cpu(), _analysed(service), time.monotonic()
    time.sleep(seconds)
    elapsed = time.monotonic() - started
    return (_cpu() - before_cpu) / elapsed, _analysed(service) - before_analysed


def _cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _analysed(service: Any) -> int:
    return sum(row.analysed for row in service.status())


def _event(index: int) -> ThreatEvent:
    now = time.time()
    return ThreatEvent(camera=f"camera{index % 4}", state="open", first_seen=now - 0.5, confirmed_at=now,
                       last_seen=now, max_score=0.9, best_box=(10.0, 10.0, 60.0, 60.0), zone=None)


def _wall_site(folder: Path, cameras: int) -> SiteConfig:
    from gunwatch.config import parse_site_config

    lines = "\n".join(f'  cam{index:02d}: {{url: "{DEMO_CLIP}", loop: true, detect: {{fps: 2}}}}'
                      for index in range(cameras))
    return parse_site_config(f"""
cameras:
{lines}
evidence: {{folder: "{folder / 'evidence'}"}}
store: {{url: "sqlite:///{folder / 'events.db'}"}}
console: {{listen: "127.0.0.1:8780", live_fps: 2}}  # not listened on: the bench serves on a free port
""")


