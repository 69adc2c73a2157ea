"""`gunwatch serve --config FILE`: the console, API and metrics against a site's store, without cameras.

For a console on another machine than the cameras: it reads the same store (PostgreSQL, or the SQLite file of
a watch on this machine). Actions taken here are recorded at once; their cancels and all-clears go out from
the outbox of the running `gunwatch watch`, which delivers whatever any process queued. No live frames: the
cameras' health and numbers come from the store.
"""

from __future__ import annotations

import logging
import signal
import threading
from pathlib import Path

from gunwatch.alerts.event_actions import EventActions
from gunwatch.config import ConfigError, load_site_config
from gunwatch.config.errors import ConfigProblem
from gunwatch.events.backup.guard import check_upgrade
from gunwatch.events.store import EventStore
from gunwatch.ops.logs import LogFormat, configure_logging
from gunwatch.ops.memory import tune_malloc
from gunwatch.web.app import create_app
from gunwatch.web.server import LinkServer, LinkServerError, parse_listen
from gunwatch.web.site import Console

SIGNAL_CHECK_S = 0.2  # the main thread wakes at least this often to run signal handlers
log = logging.getLogger(__name__)


def serve(config: Path, ready: threading.Event | None = None, stop: threading.Event | None = None,
          log_format: LogFormat = "text", no_backup: bool = False) -> None:
    """Until SIGINT / SIGTERM (or `stop`, for tests); `ready` is set once the server listens. `log_format`:
    text, or json (a JSON object a line on stderr). A store whose schema needs an upgrade is upgraded only
    once a backup holds it, or with `no_backup`, as `watch` does (a console host upgraded first would
    otherwise migrate a shared store)."""
    configure_logging(log_format)
    tune_malloc()  # before the threads: memory that does not grow in steps over months
    site = load_site_config(config)
    if site.console is None:
        raise ConfigError([ConfigProblem(str(config), "gunwatch serve needs a console section "
                                                      "(e.g. console: {listen: 127.0.0.1:8780})", "console")])
    if not no_backup:  # before the store opens: opening it upgrades its schema
        check_upgrade(site.store, config, command="serve")
    stop = stop or threading.Event()
    with EventStore(site.store.url) as store:
        actions = EventActions(store)
        console = Console.build(store, actions, site.console, live=None, channels=site.alerts.channels)
        links = site.alerts.links
        app = create_app(store, actions, links.secret if links.base_url else None, console=console)
        server = LinkServer(app, *parse_listen(site.console.listen), tls=site.console.tls)
        try:
            server.start()
        except LinkServerError as error:
            console.close()
            raise ConfigError([ConfigProblem(str(config), str(error), "console.listen")]) from None
        try:
            if threading.current_thread() is threading.main_thread():
                for signum in (signal.SIGINT, signal.SIGTERM):
                    signal.signal(signum, lambda *_: stop.set())
            log.info("console: %s against %s", server.url, store.url)  # said once a SIGTERM stops it cleanly
            if ready is not None:
                ready.set()
            # With a timeout: a SIGTERM the kernel hands to the server's thread only flags it, and this (main)
            # thread runs the handler once it wakes; in a wait without one it never woke.
            while not stop.wait(SIGNAL_CHECK_S):
                pass
        finally:
            server.stop()
            console.close()
