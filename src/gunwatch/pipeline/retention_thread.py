"""Retention inside `gunwatch watch`: a pass at start, then every `retention.every_s`, on a thread of its own.

A pass deletes files and rows but never waits on a camera, and no camera waits on it: a full evidence disk
costs events their pictures and clips (they are stored and sent without, and say so), never their analysis
or alerts. The disk going below its floor with nothing left to prune is a `disk_low` health event (the audit
log and the log), once until the disk is above it again.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

from gunwatch.config.site import SiteConfig
from gunwatch.events.retention.disk import size_text
from gunwatch.events.retention.prune import Pruner, PruneReport
from gunwatch.events.retention.records import record_disk
from gunwatch.events.store import EventStore

log = logging.getLogger(__name__)

DiskLowListener = Callable[[str], None]


class RetentionThread:
    def __init__(self, site: SiteConfig, store: EventStore, on_disk_low: DiskLowListener | None = None):
        self.every_s = site.retention.every_s
        self.folder = site.evidence.folder
        self.pruner = Pruner(store, site.retention, site.evidence.folder)
        self.store, self.on_disk_low = store, on_disk_low
        self.disk_low = False  # as last recorded
        self.passes = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="retention", daemon=True)

    def start(self) -> RetentionThread:
        self._thread.start()
        return self

    def stop(self, timeout_s: float = 10.0) -> None:
        self._stop.set()
        self._thread.join(timeout_s)

    def alive(self) -> bool:
        return self._thread.is_alive()

    def run_once(self, now: float | None = None) -> PruneReport | None:
        """One pass; None when it failed (said in the log; the next pass tries again)."""
        try:
            report = self.pruner.run(now)
            self._floor(report)
        except Exception:  # a store outage, a disk error: retention waits for the next pass, the cameras go on
            log.exception("retention: the pass failed; again in %g s", self.every_s)
            return None
        finally:
            self.passes += 1
        if report.done or report.health_rows:
            log.info("retention: pruned %d event(s)' evidence or records (%s freed), %d health record(s)",
                     len(report.done), size_text(sum(p.space for p in report.done)), report.health_rows)
        return report

    def _run(self) -> None:
        while True:  # the first pass always runs: a watch started on a full disk makes room before anything else
            self.run_once()
            if self._stop.wait(self.every_s):
                return

    def _floor(self, report: PruneReport) -> None:
        if report.below_floor == self.disk_low:
            return
        free, floor = report.free_after, report.plan.floor
        with self.store.errors("cannot record the evidence disk's health in"), \
                self.store.write_session.begin() as session:
            record_disk(session, report.below_floor, str(self.folder), free, floor)
        self.disk_low = report.below_floor
        if not self.disk_low:
            log.info("retention: the evidence disk is above its floor again (%s free, floor %s)", size_text(free),
                     size_text(floor))
            return
        reason = (f"{size_text(free)} free on the evidence disk of {self.folder}, below its floor of "
                  f"{size_text(floor)}, and no evidence left that may be pruned (open, unresolved or held events)")
        log.warning("retention: disk_low: %s", reason)
        if self.on_disk_low is not None:
            self.on_disk_low(reason)
