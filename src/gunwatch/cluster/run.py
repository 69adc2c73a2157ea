"""`gunwatch watch` in cluster mode: check the site, join the Ray cluster, supervise until stopped.

The head also serves what one process serves beside its cameras: the console, API and /metrics (live rows from
every node), the action links, and retention (pruning the shared evidence folder and the store).

The driver records one watch run in the store (`RunRecord`: every camera of the site, its heartbeat, its end),
as one process would: a clean stop marks the cameras `stopped` and closes their open events; a driver that
dies takes its agents with it (they are its actors), their leases lapse, and the next start finds the run
crashed. SIGINT and SIGTERM stop it cleanly: cameras stopped, leases given back, the alerts actor drained;
SIGHUP (`gunwatch reload`) has the site file read again, as one process does.
"""

from __future__ import annotations

import logging
import signal
import threading
import time
from collections.abc import Callable
from contextlib import ExitStack
from pathlib import Path
from typing import Any

from gunwatch.cluster.supervisor import Supervisor
from gunwatch.config import load_site_config
from gunwatch.config.site import SiteConfig
from gunwatch.events.store import EventStore

log = logging.getLogger(__name__)


def cluster_site(config: Path, address: str | None) -> SiteConfig | None:
    """The site when it is to run on a cluster (a `cluster` section, or `address`); None: one process."""
    site = load_site_config(config)
    if address is not None:
        from gunwatch.config.cluster import with_cluster_address

        return with_cluster_address(site, address)
    return site if getattr(site, "cluster", None) is not None else None


def watch_cluster(config: Path, site: SiteConfig, duration_s: float | None, status_every_s: float,
                  no_backup: bool = False, log_format: str = "text") -> None:
    """Until SIGINT/SIGTERM or `duration_s`: the site's cameras on the cluster's nodes. `log_format` json: the
    actors log JSON too, and Ray does not copy their lines here (it would prefix each with the actor's name, and
    every line on stderr must be JSON): they stay in each node's Ray logs (`ray logs`)."""
    import os

    if log_format == "json":
        os.environ.setdefault("RAY_LOG_TO_DRIVER", "0")  # read when ray is first imported, just below
    from gunwatch.cluster.checks import check_cluster_site, connect_cluster
    from gunwatch.events.backup.guard import check_upgrade
    from gunwatch.pipeline.run_record import RunRecord

    settings = site.cluster
    assert settings is not None
    check_cluster_site(site, config)
    if not no_backup:
        check_upgrade(site.store, config)
    connect_cluster(settings)
    import ray

    stop, reload_asked = threading.Event(), threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stop.set())
    # SIGHUP (`gunwatch reload`): the site file again at the next poll; its default action would end the driver.
    signal.signal(signal.SIGHUP, lambda *_: reload_asked.set())
    with ExitStack() as started:
        started.callback(ray.shutdown)
        store = EventStore(site.store.url)
        started.callback(store.close)
        supervisor = Supervisor(config, site, settings, store, log_format=log_format, reload_asked=reload_asked).start()
        started.callback(supervisor.close)
        alerts = supervisor.alerts
        record = RunRecord(store, list(site.enabled_cameras)).start(supervisor.to_alerts)
        started.push(record.exit)
        web = start_cluster_web(config, site, store, supervisor)
        if web is not None:
            started.callback(web.stop)
        # Retention on the head, as one process does it: the evidence share and the store are the cluster's.
        from gunwatch.pipeline.retention_thread import RetentionThread

        on_disk_low = (lambda reason: alerts.disk_low.remote(reason)) if alerts is not None else None
        started.callback(RetentionThread(site, store, on_disk_low).start().stop)
        started.callback(supervisor.close_agents)  # first at exit: cameras stop before the run's end is written
        supervisor.on_cameras = record.watching
        from gunwatch.pipeline.watch_command import status_writer

        _supervise(supervisor, stop, duration_s, status_every_s, status_writer(log_format))  # type: ignore[arg-type]
        log.info("cluster: stopping: cameras, leases, alerts")


class AlertsElsewhere:
    """What the web server needs of the alert service when that runs in the alerts actor: its actions, on the
    store (the actor's dispatcher sees the cancels they queue at its next poll), and a dispatcher to wake (none
    here)."""

    def __init__(self, store: EventStore) -> None:
        from gunwatch.alerts.event_actions import EventActions

        self.actions = EventActions(store)
        self.dispatcher = self

    def wake(self) -> None:
        pass


def start_cluster_web(config: Path, site: SiteConfig, store: EventStore, supervisor: Supervisor) -> Any:
    """The console, API, /metrics and action links on the head, as `gunwatch watch` serves them, live rows from
    every node (`ClusterLiveView`); None when the site file has neither a console nor links."""
    from gunwatch.cluster.live_view import ClusterLiveView
    from gunwatch.config import ConfigError
    from gunwatch.config.errors import ConfigProblem
    from gunwatch.pipeline.watch_command import start_web
    from gunwatch.web.server import LinkServerError

    alerts = AlertsElsewhere(store) if supervisor.with_alerts else None
    try:
        return start_web(site, store, alerts, lambda: True, ClusterLiveView(supervisor))  # type: ignore[arg-type]
    except LinkServerError as error:
        key = "console.listen" if site.console is not None else "alerts.links.listen"
        raise ConfigError([ConfigProblem(str(config), str(error), key)]) from None


def _supervise(supervisor: Supervisor, stop: threading.Event, duration_s: float | None,
               status_every_s: float, report: Callable[[str], None]) -> None:
    """Poll until stopped; the cameras per node reported whenever they change, and every `status_every_s`."""
    started = time.monotonic()
    shown: dict[str, list[str]] | None = None
    next_status = started
    while not stop.is_set():
        try:
            supervisor.poll()
        except Exception:  # the store or Ray failing for a moment: the cameras run on, the next poll tries again
            log.exception("cluster: a poll failed; the next one tries again")
        where = supervisor.where()
        now = time.monotonic()
        if where != shown or (status_every_s > 0 and now >= next_status):
            shown = where
            next_status = now + status_every_s
            report(where_text(where, len(supervisor.site.enabled_cameras)))
        if duration_s is not None and now - started >= duration_s:
            return
        stop.wait(supervisor.poll_s)


def where_text(where: dict[str, list[str]], cameras: int) -> str:
    placed = sum(len(names) for names in where.values())
    lines = [f"cluster: {placed} of {cameras} cameras running on {len(where)} node(s)"]
    lines += [f"  {node}: {', '.join(names)}" for node, names in sorted(where.items())]
    return "\n".join(lines)
