"""Live reload of the site file (`SIGHUP`, `gunwatch reload`): what changed, and applied without a restart.

`plan_reload` compares the running site with the file read again: cameras added, removed or changed (each
started, stopped or restarted alone: the others keep their threads, their frame rate and their open events),
and whether the alerts section changed (channels, recipients and protocols apply to events that open
afterwards: `AlertService.update`). Sections the running pipeline was built from once (the detector, the
store, the web server, the evidence writer, retention, the watchdog) cannot change live: the whole reload is
refused, naming them, and the running site goes on.
`Reloader.reload` reads the file; a file with errors is refused whole too, its errors logged (file, key).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from gunwatch.alerts.service import AlertService
from gunwatch.config import ConfigError, load_site_config
from gunwatch.config.errors import ConfigProblem
from gunwatch.config.site import SiteConfig
from gunwatch.pipeline.run_record import RunRecord
from gunwatch.pipeline.watch import WatchService
from gunwatch.pipeline.watchdog_service import Watchdog

log = logging.getLogger(__name__)

RESTART_NEEDED = "cannot change while gunwatch watch runs: restart it to apply this"
# Per-camera inputs in other sections: a change there restarts every camera (each loop and source reads them).
CAMERA_SECTIONS = ("confirmation", "motion")


def fixed_keys(site: SiteConfig) -> dict[str, object]:
    """What the running pipeline was built from once, by key path."""
    return {"detector": site.detector, "store": site.store, "console": site.console, "evidence": site.evidence,
            "retention": site.retention, "health": site.health, "alerts.links": site.alerts.links}


@dataclass(frozen=True)
class ReloadPlan:
    added: tuple[str, ...]
    removed: tuple[str, ...]
    changed: tuple[str, ...]
    alerts_changed: bool

    @property
    def empty(self) -> bool:
        return not (self.added or self.removed or self.changed or self.alerts_changed)

    def summary(self) -> str:
        parts = [f"{what} {', '.join(names)}" for what, names in
                 (("added", self.added), ("removed", self.removed), ("restarted", self.changed)) if names]
        if self.alerts_changed:
            parts.append("alerts changed (for events that open from now on)")
        return "; ".join(parts) or "nothing changed"


def plan_reload(old: SiteConfig, new: SiteConfig, file: str) -> ReloadPlan:
    """What applying `new` over the running `old` does; ConfigError (file, key) when a section that cannot
    change live changed."""
    before, after = fixed_keys(old), fixed_keys(new)
    problems = [ConfigProblem(file, RESTART_NEEDED, key) for key in before if before[key] != after[key]]
    if problems:
        raise ConfigError(problems)
    running, wanted = old.enabled_cameras, new.enabled_cameras
    every = any(getattr(old, section) != getattr(new, section) for section in CAMERA_SECTIONS)
    changed = tuple(name for name in running if name in wanted and (every or running[name] != wanted[name]))
    return ReloadPlan(added=tuple(name for name in wanted if name not in running),
                      removed=tuple(name for name in running if name not in wanted),
                      changed=changed, alerts_changed=old.alerts != new.alerts)


def apply_plan(service: WatchService, new: SiteConfig, plan: ReloadPlan,
               on_removed: Callable[[str], None] | None = None) -> None:
    """Cameras stopped, restarted and started as `plan` says; the others are not touched. `on_removed` hears
    each camera removed (the watchdog forgets it)."""
    service.site = new  # what added and restarted cameras are built from
    for name in plan.removed:
        service.remove_camera(name, "removed from the site file")
        if on_removed is not None:
            on_removed(name)
    for name in plan.changed:
        service.remove_camera(name, "changed in the site file; restarted", stopped=False)
        service.add_camera(name, new.enabled_cameras[name])
    for name in plan.added:
        service.add_camera(name, new.enabled_cameras[name])


class Reloader:
    """Reads `config` again and applies it to the running `service`; one reload at a time. `on_alerts` takes
    the new site when its alerts section changed (the alert service swaps its settings)."""

    def __init__(self, config: Path, service: WatchService, on_alerts: Callable[[SiteConfig], None] | None = None,
                 on_removed: Callable[[str], None] | None = None,
                 on_cameras: Callable[[list[str]], None] | None = None) -> None:
        """`on_removed` hears each camera removed; `on_cameras` the cameras watched once some were added or
        removed (the run's record)."""
        self.config, self.service, self.on_alerts = config, service, on_alerts
        self.on_removed, self.on_cameras = on_removed, on_cameras
        self._lock = threading.Lock()

    def reload(self) -> ReloadPlan | None:
        """The plan applied, or None when the file was refused (its errors logged; nothing changed)."""
        with self._lock:
            if self.service.stop_event.is_set():
                return None  # the watch is stopping: its cameras are being closed
            try:
                new = load_site_config(self.config)
                plan = plan_reload(self.service.site, new, str(self.config))
                if plan.alerts_changed and self.on_alerts is not None:
                    self.on_alerts(new)  # first (a channel that cannot be built refuses it all)
            except ConfigError as error:
                for problem in error.problems:
                    log.error("reload refused, the running site goes on unchanged: %s", problem)
                return None
            log.info("reload of %s: %s", self.config, plan.summary())
            apply_plan(self.service, new, plan, self.on_removed)
            if (plan.added or plan.removed) and self.on_cameras is not None:
                self.on_cameras(list(new.enabled_cameras))
            return plan

    def in_background(self) -> None:
        """From a signal handler: the reload runs on a thread of its own (it joins camera threads)."""
        threading.Thread(target=self._reload_logged, name="reload", daemon=True).start()

    def _reload_logged(self) -> None:
        try:
            self.reload()
        except Exception:  # a camera that would not open, the store: said in the log, the watch goes on
            log.exception("reload of %s: failed part way (see the cameras' lines above for what was applied)",
                          self.config)


def alerts_swapper(config: Path, alerts: AlertService | None) -> Callable[[SiteConfig], None]:
    """What a reload does with a changed alerts section: the running alert service takes it for events that
    open afterwards; a watch started without alerts cannot start them live (refused, naming the key)."""

    def swap(new: SiteConfig) -> None:
        if alerts is None:
            raise ConfigError([ConfigProblem(str(config), f"alerts {RESTART_NEEDED} (the watch runs without)",
                                             "alerts")])
        alerts.update(new.alerts, str(config))

    return swap


def site_reloader(config: Path, service: WatchService, watchdog: Watchdog, alerts: AlertService | None,
                  record: RunRecord | None = None) -> Reloader:
    """What SIGHUP (and `gunwatch reload`) runs: `config` read again and applied (`WatchSignals` routes it)."""
    return Reloader(config, service, alerts_swapper(config, alerts), on_removed=watchdog.forget,
                    on_cameras=record.watching if record is not None else None)
