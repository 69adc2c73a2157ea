"""The alerts actor: the site's one protocol engine and outbox, for every node, in one supervised place.

Ray runs `AlertsHost` as a named actor (`max_restarts=-1, max_task_retries=-1`). Nothing it needs to go on
lives only in its memory: protocol runs, their waits and the outbox's deliveries are rows of the shared store,
so a restarted host simply starts `AlertService` again: the engine's tick picks up every run still active and
the dispatcher every delivery still due (leases make a delivery cut off mid-send go out again under its own
key). What the agents hand over is acknowledged only once the alert thread has handled it (`handle`), so an
item the host died holding is sent again by the agent's forwarder (`forwarding`). Lost on a restart: only the
memory of which alerts still wait for a late snapshot (their follow-up picture is not sent).
"""

from __future__ import annotations

import logging
import threading

from gunwatch.alerts.service import AlertService, Item
from gunwatch.config.alerts import AlertSettings
from gunwatch.config.site import SiteConfig
from gunwatch.events.store import EventStore

log = logging.getLogger(__name__)

HANDLE_WAIT_S = 20.0  # an item not handled by then (a store outage) is not acknowledged: the agent sends it again


class AlertsHost:
    """The body of the alerts actor (plain Python; `gunwatch.cluster.actors` makes it a Ray actor)."""

    def __init__(self, site: SiteConfig, log_format: str = "text") -> None:
        from gunwatch.ops.logs import configure_logging

        configure_logging(log_format)  # type: ignore[arg-type]
        self.store = EventStore(site.store.url)
        self.service: AlertService | None = None
        if site.alerts.channels or site.alerts.protocols:
            self.service = AlertService(site.alerts, self.store)
            self.service.start()
            log.info("alerts actor: %d channels, %d protocols", len(site.alerts.channels), len(site.alerts.protocols))

    def handle(self, item: Item) -> bool:
        """An event, an evidence-ready event or a health change: True once handled (always, without alerts);
        False when not handled within HANDLE_WAIT_S (a store outage): the agent's forwarder sends it again."""
        if self.service is None:
            return True
        handled = threading.Event()
        self.service.submit(item, handled)
        return handled.wait(HANDLE_WAIT_S)

    def disk_low(self, reason: str) -> bool:
        if self.service is not None:
            self.service.submit_disk_low(reason)
        return True

    def update(self, settings: AlertSettings, file: str) -> None:
        """A reload's new alerts section (ConfigError naming the key when it cannot apply)."""
        if self.service is not None:
            self.service.update(settings, file)

    def ping(self) -> str:
        """Where it runs: node and process."""
        import os

        from gunwatch.cluster.agent import node_label

        return f"{node_label()} (pid {os.getpid()})"

    def close(self) -> None:
        if self.service is not None:
            self.service.close()
        self.store.close()
