"""`gunwatch watch`: build the pipeline from a site file, print events and a live status, stop cleanly."""

from __future__ import annotations

import json
import logging
import os
import signal
import sys
import threading
import time
from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from gunwatch.alerts.channels.registry import ChannelSetupError
from gunwatch.alerts.service import AlertService
from gunwatch.config import ConfigError, load_site_config
from gunwatch.config.errors import ConfigProblem
from gunwatch.config.sections import detector_parallelism
from gunwatch.config.site import SiteConfig
from gunwatch.events.backup.guard import check_upgrade
from gunwatch.events.console import event_line
from gunwatch.events.model import ThreatEvent
from gunwatch.events.store import EventStore
from gunwatch.events.store.report import event_json
from gunwatch.inference.alarm_threshold import alarm_threshold_measured
from gunwatch.inference.base import Detector
from gunwatch.inference.loading import load_detector
from gunwatch.inference.person_crops import SecondLookParams
from gunwatch.ops.logs import LogFormat, configure_logging
from gunwatch.ops.memory import tune_malloc
from gunwatch.pipeline.analysis import FrameAnalyzer
from gunwatch.pipeline.live_view import PipelineLiveView
from gunwatch.pipeline.reload import site_reloader
from gunwatch.pipeline.run_record import RunRecord
from gunwatch.pipeline.status_line import status_table, status_text, watchdog_text
from gunwatch.pipeline.watch import WatchService
from gunwatch.pipeline.watch_signals import WatchSignals
from gunwatch.pipeline.watchdog_service import Watchdog, lane_bounds
from gunwatch.service.live import LiveView
from gunwatch.video.health import HealthChange
from gunwatch.web.server import LinkServer, LinkServerError, parse_listen

if TYPE_CHECKING:
    from gunwatch.web.site import Console

MIN_SCORE_RISE = 0.05
SIGNAL_CHECK_S = 0.2  # the main thread wakes at least this often to run signal handlers (show_status)
log = logging.getLogger(__name__)


def input_side(detector: object) -> int:
    size = getattr(detector, "input_size", 416)
    return max(size) if isinstance(size, tuple) else int(size)


def build_service(site: SiteConfig, on_event: Callable[[ThreatEvent], None] | None,
                  on_health: Callable[[HealthChange], None] | None, store: EventStore | None,
                  on_evidence: Callable[[ThreatEvent], None] | None = None) -> WatchService:
    _, threads = detector_parallelism(site.detector)
    detector = load_detector(site.detector.model, threads=threads, input_size=site.detector.input_size, spinning=False,
                             flip=site.detector.flip, verifier=site.detector.verifier,
                             max_input=site.detector.max_input_size)
    analyzer = FrameAnalyzer(detector, input_side(detector), second_look_params(site))
    warn_if_threshold_unmeasured(site, detector, analyzer.threshold)
    return WatchService(site, analyzer, store, on_event, on_health, on_evidence=on_evidence)


def warn_if_threshold_unmeasured(site: SiteConfig, detector: Detector, threshold: float) -> None:
    """Said at start: cameras that will alarm at a threshold nobody measured on footage. A verifier retrained
    with the site's false alarms carries none, and its image threshold (chosen on photos) is lower than the
    one the shipped verifier alarms at; quietly, the retraining would raise more alarms, not fewer."""
    cameras = [name for name, camera in site.enabled_cameras.items() if camera.detect.threshold is None]
    if cameras and not alarm_threshold_measured(detector):
        log.warning("%s carries no alarm threshold measured on footage: %s alarm at its image threshold %.3f, "
                    "chosen on photos; measure one with `gunwatch bench alarms` on this site's recordings and set "
                    "it as each camera's detect.threshold", detector.name, ", ".join(cameras), threshold)


def second_look_params(site: SiteConfig) -> SecondLookParams:
    return SecondLookParams(**site.detector.second_look.model_dump())


def start_alerts(site: SiteConfig, store: EventStore) -> AlertService | None:
    """The alert service when the site file configures channels or protocols (a protocol may only call a
    door controller or run a command); None: events are stored, not sent."""
    if not site.alerts.channels and not site.alerts.protocols:
        return None
    alerts = AlertService(site.alerts, store).start()
    log.info("alerts: %d channels, %d protocols", len(site.alerts.channels), len(site.alerts.protocols))
    return alerts


def start_web(site: SiteConfig, store: EventStore, alerts: AlertService | None,
              alive: Callable[[], bool] | None = None, live: LiveView | None = None) -> WebServer | None:
    """The one web server: the console, API and metrics when the site file has a `console` section, and the
    action links when it gives them a base URL (and alerts run); its /healthz answers with `alive`. None when
    there is neither."""
    links = site.alerts.links
    secret = links.secret if alerts is not None and links.base_url is not None else None
    if site.console is None and secret is None:
        return None
    from gunwatch.alerts.event_actions import EventActions
    from gunwatch.web.app import create_app
    from gunwatch.web.site import Console

    actions = alerts.actions if alerts is not None else EventActions(store)
    console = None if site.console is None else Console.build(store, actions, site.console, live,
                                                              channels=site.alerts.channels)

    def on_action(_result: object) -> None:
        if alerts is not None:
            alerts.dispatcher.wake()  # the cancels go out at once

    app = create_app(store, actions, secret, on_action=on_action, alive=alive, console=console)
    tls = site.console.tls if site.console is not None else links.tls
    server = LinkServer(app, *parse_listen(site.web_listen), tls=tls)
    try:
        server.start()
    except BaseException:
        if console is not None:
            console.close()
        raise
    if console is not None:
        log.info("console: %s (sign in with a user from `gunwatch user add`)", server.url)
    if secret is not None:
        log.info("alerts: action links served on %s for %s", server.url, links.base_url)
    return WebServer(server, console)


@dataclass
class WebServer:
    server: LinkServer
    console: Console | None

    @property
    def url(self) -> str:
        return self.server.url

    def wake(self, _event: object = None) -> None:
        if self.console is not None:
            self.console.wake()

    def stop(self) -> None:
        self.server.stop()
        if self.console is not None:
            self.console.close()


def start_watchdog(service: WatchService, alerts: AlertService | None) -> Watchdog:
    settings = service.site.health.watchdog
    if alerts is None:
        return Watchdog(service, settings).start()
    return Watchdog(service, settings, alerts.dispatcher, lane_bounds(alerts, settings)).start()


def watch(config: Path, duration_s: float | None, until_done: bool, as_json: bool, status_every_s: float,
          open_console: bool = False, keep_console: bool = False, log_format: LogFormat = "text",
          no_backup: bool = False) -> None:
    """`open_console`: open the console's sign-in page in the desktop's browser once it listens (when there is
    a desktop). `keep_console`: once the cameras are done (--until-done, --duration), keep the console up until
    Ctrl-C, when run from a terminal (never in a script or CI). `log_format` json: every line on stderr is a
    JSON log record, the status tables too (for journald and log shippers). A store whose schema needs an
    upgrade is upgraded only once a backup holds it, or with `no_backup` (UpgradeRefused says how)."""
    with WatchSignals() as signals:  # first: a stop or reload asked while starting is kept, not fatal
        run_watch(signals, config, duration_s, until_done, as_json, status_every_s, open_console, keep_console,
                  log_format, no_backup)


def run_watch(signals: WatchSignals, config: Path, duration_s: float | None, until_done: bool, as_json: bool,
              status_every_s: float, open_console: bool, keep_console: bool, log_format: LogFormat,
              no_backup: bool) -> None:
    configure_logging(log_format)
    tune_malloc()  # before the threads: memory that does not grow in steps over months
    report = status_writer(log_format)
    show_event = event_writer(as_json, log_format)
    site = load_site_config(config)
    if not no_backup:  # before the store opens: opening it upgrades its schema
        check_upgrade(site.store, config)
    store = EventStore(site.store.url)
    printed = threading.Lock()  # event lines come from the pipeline thread, health lines from camera threads
    shown: dict[str, tuple[str, float, str | None]] = {}  # event id -> (state, score, clip) last printed
    webs: list[WebServer] = []  # the web server, once started: its console hears of each stored event at once

    def on_event(event: ThreatEvent) -> None:
        for web in webs:
            web.wake()
        # Every change is stored; the console shows a new state, a visible rise in score, or a clip made ready.
        state, score, clip = shown.get(event.id, ("", -1.0, None))
        same_state = event.state == state or (event.state == "updated" and state == "open")
        if same_state and event.max_score < score + MIN_SCORE_RISE and event.evidence.clip == clip:
            return
        shown[event.id] = (event.state, event.max_score, event.evidence.clip)
        with printed:
            show_event(event)

    # Whatever fails to start, what did start is closed again, in reverse order (the store last).
    with ExitStack() as started:
        started.callback(store.close)
        try:
            alerts = start_alerts(site, store)
        except ChannelSetupError as error:  # a channel that cannot be built: said before any camera opens
            raise ConfigError([ConfigProblem(str(config), str(error), f"alerts.channels.{error.channel}")]) from None
        if alerts is not None:
            started.callback(alerts.close)
        # This run in the store, and what a crashed one left (an alert it cut off still starts); its end,
        # stopped or failed, is written at exit, after the cameras and before the alerts stop.
        record = RunRecord(store, list(site.enabled_cameras)).start(alerts.submit_event if alerts else None)
        started.push(record.exit)
        watchdogs: list[Watchdog] = []  # the one watchdog, once the pipeline runs; alive until then
        on_health = alerts.submit_health if alerts is not None else None
        on_evidence = alerts.submit_event if alerts is not None else None
        service = build_service(site, on_event, on_health, store, on_evidence)
        started.callback(service.close)
        try:
            web = start_web(site, store, alerts, lambda: all(w.alive() for w in watchdogs), PipelineLiveView(service))
        except LinkServerError as error:
            key = "console.listen" if site.console is not None else "alerts.links.listen"
            raise ConfigError([ConfigProblem(str(config), str(error), key)]) from None
        if web is not None:
            started.callback(web.stop)
            webs.append(web)
            if open_console and web.console is not None:
                open_in_browser(f"{web.url}/login")
        service.start()
        # Pruning by the retention section and the evidence disk's floor: a pass now, then every every_s.
        from gunwatch.pipeline.retention_thread import RetentionThread

        on_disk_low = alerts.submit_disk_low if alerts is not None else None  # `on: disk_low` protocols
        started.callback(RetentionThread(site, store, on_disk_low).start().stop)
        watchdog = start_watchdog(service, alerts)
        started.callback(watchdog.stop)  # first of all at exit: stopping cameras is no hang to restart
        watchdogs.append(watchdog)
        record.liveness = watchdog.liveness  # no heartbeat while the pipeline is stuck
        signals.stop_with(service)  # a stop asked while starting ends the run below at once, in order
        signals.reload_with(site_reloader(config, service, watchdog, alerts, record))  # `gunwatch reload`
        runner = threading.Thread(target=service.run, args=(duration_s, until_done), name="watch", daemon=True)
        runner.start()
        try:
            show_status(service, runner, status_every_s, watchdog, report,
                        live=sys.stderr.isatty() and log_format == "text")
        finally:
            service.stop()
            runner.join()
        with printed:
            report(status_report(service, watchdog))
        if keep_console and webs and webs[0].console is not None and sys.stdin.isatty():
            keep_serving(webs[0].url)


def open_in_browser(url: str) -> None:
    """The desktop's browser on `url`, when there is a desktop; otherwise nothing (a server, CI)."""
    desktop = sys.platform in ("darwin", "win32") or os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")
    if desktop and sys.stdout.isatty():
        import webbrowser

        threading.Thread(target=webbrowser.open, args=(url,), name="open-console", daemon=True).start()


def keep_serving(url: str) -> None:
    """Until Ctrl-C (or SIGTERM): the cameras are done, the console stays for whoever looks at the events."""
    done = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: done.set())
    sys.stderr.write(f"the cameras are done; the console stays up on {url} until Ctrl-C\n")
    while not done.wait(0.5):
        pass


def event_writer(as_json: bool, log_format: LogFormat) -> Callable[[ThreatEvent], None]:
    """How an event is shown: with --json the same object as `gunwatch event list --json` gives, one a line
    on stdout; else its line on stdout, or (json logs, as a service) a log record with its fields."""
    if as_json:
        return lambda event: print(json.dumps(event_json(event)), flush=True)
    if log_format == "json":
        return lambda event: log.warning("%s", event_line(event), extra={
            "camera": event.camera, "event": event.id, "state": event.state, "score": round(event.max_score, 3)})
    return lambda event: print(event_line(event), flush=True)


def status_writer(log_format: LogFormat) -> Callable[[str], None]:
    """Where a status table goes: stderr as it is, or (json) a log record of its own with the table as its
    message, so that no line on stderr is anything but JSON."""
    if log_format == "json":
        return lambda text: log.info("status:\n%s", text)
    return lambda text: sys.stderr.write(text + "\n")


def status_report(service: WatchService, watchdog: Watchdog) -> str:
    """The cameras' table and the watchdog's line."""
    return status_text(service.status()) + "\n" + watchdog_line(watchdog)


def watchdog_line(watchdog: Watchdog) -> str:
    return watchdog_text(watchdog.liveness(), watchdog.restarts, watchdog.lane_restarts)


def show_status(service: WatchService, runner: threading.Thread, every_s: float, watchdog: Watchdog,
                report: Callable[[str], None], live: bool) -> None:
    """A live table on a terminal (`live`); on a log, the table every `every_s` seconds through `report`.

    Every wait here has a timeout: a SIGTERM that the kernel hands to another thread (any thread may take a
    signal sent to the process) only flags it, and the main thread runs the handler once it wakes. Blocked in
    a join without a timeout it never woke, and the stop was lost until the run ended by itself."""
    if every_s <= 0:
        while runner.is_alive():
            runner.join(SIGNAL_CHECK_S)
        return
    if live:
        from rich.console import Console
        from rich.live import Live

        def table():  # a rich Table
            return status_table(service.status(), caption=watchdog_line(watchdog))

        with Live(table(), console=Console(stderr=True), refresh_per_second=2) as live:
            while runner.is_alive():
                runner.join(0.5)
                live.update(table())
        return
    next_at = time.time() + every_s
    while runner.is_alive():
        runner.join(SIGNAL_CHECK_S)
        if time.time() >= next_at and runner.is_alive():
            report(status_report(service, watchdog))
            next_at += every_s
