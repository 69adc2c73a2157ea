"""One retention pass: the plan carried out, event by event, or only shown (a dry run).

Each event is pruned in a transaction of its own that first locks its row and looks again whether it is still
prunable: a hold (or a reopened question) that came after the plan was made wins. Its files are deleted inside
that transaction, before the paths are cleared: a crash in between leaves paths to missing files, which the
next pass clears, never files nobody knows of. A path is cleared only while it still names the deleted file
(a clip finished meanwhile keeps its new path).
"""

from __future__ import annotations

import logging
import os
import time
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import delete, func, select, update
from sqlalchemy.orm import Session

from gunwatch.config.retention import RetentionSettings
from gunwatch.events.retention.candidates import FINAL_DISPOSITIONS, prunable_events
from gunwatch.events.retention.disk import DiskUsage, disk_usage, file_space, folder_space
from gunwatch.events.retention.plan import DAY_S, Plan, Prune, make_plan
from gunwatch.events.retention.records import audit
from gunwatch.events.retention.strays import Stray, delete_strays, stray_partials
from gunwatch.events.store import EventStore
from gunwatch.events.store.schema import (
    AuditRow,
    DeliveryRow,
    DispositionRow,
    EventRow,
    HealthRow,
    LegalHoldRow,
    ProtocolRunRow,
    RevokedLinkRow,
)

log = logging.getLogger(__name__)

# The rows of an event's history: they go with it when it is deleted by age.
EVENT_HISTORY = (DispositionRow, DeliveryRow, ProtocolRunRow, RevokedLinkRow, AuditRow)


@dataclass
class PruneReport:
    plan: Plan
    dry_run: bool
    done: list[Prune] = field(default_factory=list)  # carried out (a dry run: what would be)
    spared: list[tuple[Prune, str]] = field(default_factory=list)  # held or answered again meanwhile, or a failure
    health_rows: int = 0  # health history rows deleted (a dry run: that would be)
    strays: list[Stray] = field(default_factory=list)  # half-written files of a crashed writer, deleted (would be)
    usage_after: DiskUsage | None = None  # measured after the pass (a dry run: None, `free_after` predicts)

    @property
    def free_after(self) -> int:
        return self.usage_after.free if self.usage_after is not None else self.plan.free_after

    @property
    def below_floor(self) -> bool:
        """The disk is still below its floor: nothing more was prunable."""
        return self.free_after < self.plan.floor


class Pruner:
    def __init__(self, store: EventStore, settings: RetentionSettings, evidence_folder: Path):
        self.store, self.settings, self.folder = store, settings, Path(evidence_folder)

    def run(self, now: float | None = None, dry_run: bool = False) -> PruneReport:
        now = time.time() if now is None else now
        return self.carry_out(self.plan(now), now, dry_run)

    def plan(self, now: float) -> Plan:
        """What a pass at `now` prunes, and why; nothing is changed."""
        with self.store.errors("cannot read the prunable events of"), self.store.read_session() as session:
            candidates = prunable_events(session, with_evidence_only=not self._deletes_events)
        return make_plan(candidates, lambda c: sum(file_space(path) for path in c.files), self.settings, now,
                         disk_usage(self.folder), folder_space(self.folder))

    def carry_out(self, plan: Plan, now: float, dry_run: bool = False) -> PruneReport:
        """The plan's prunes, each event looked at again first (a hold since the plan wins), then the health
        history; a dry run only reports."""
        report = PruneReport(plan, dry_run)
        for prune in plan.prunes:
            spared = None if dry_run else self._carry_out(prune, now)
            if spared is None:
                report.done.append(prune)
            else:
                report.spared.append((prune, spared))
        report.health_rows = self._health(now, dry_run)
        report.strays = self._strays(now, dry_run)
        if not dry_run:
            report.usage_after = disk_usage(self.folder)
        return report

    @property
    def _deletes_events(self) -> bool:
        return self.settings.events_days is not None or any(
            camera.events_days is not None for camera in self.settings.cameras.values())

    # --- one event ---------------------------------------------------------------------------------------

    def _carry_out(self, prune: Prune, now: float) -> str | None:
        """None when done; else why it was spared."""
        event = prune.candidate
        try:
            with self.store.errors(f"cannot prune event {event.event_id} in"), \
                    self.store.write_session.begin() as session:
                why_not = _still_prunable(session, event.event_id)
                if why_not is not None:
                    return why_not
                deleted, failed = _delete_files(event.files)
                if prune.what == "event" and not failed:
                    _delete_event(session, event.event_id)
                    audit(session, "retention.event_deleted", None, event.camera, at=now, event=event.event_id,
                          reason=prune.reason, files=deleted, bytes=prune.space)
                else:
                    _clear_paths(session, event.event_id, [(c, p) for c, p in event.evidence if p in deleted])
                    audit(session, "retention.evidence_pruned", event.event_id, event.camera, at=now,
                          reason=prune.reason, files=deleted, bytes=prune.space, kept=failed or None)
        except Exception as error:  # a store outage: the next pass tries again; the other events go on
            log.error("retention: event %s not pruned: %s", event.event_id, error)
            return str(error)
        if failed:
            log.error("retention: event %s: could not delete %s", event.event_id, "; ".join(failed))
            return f"could not delete {'; '.join(failed)}"
        return None

    # --- files of no event ---------------------------------------------------------------------------------

    def _strays(self, now: float, dry_run: bool) -> list[Stray]:
        strays = stray_partials(self.folder, now)
        if dry_run or not strays:
            return strays
        deleted, failed = delete_strays(strays)
        if failed:
            log.error("retention: could not delete half-written files: %s", "; ".join(failed))
        if not deleted:
            return deleted
        with self.store.errors("cannot audit the half-written files deleted from"), \
                self.store.write_session.begin() as session:
            audit(session, "retention.partials_deleted", None, None, at=now,
                  files=[str(stray.path) for stray in deleted], bytes=sum(stray.size for stray in deleted))
        return deleted

    # --- health history ------------------------------------------------------------------------------------

    def _health(self, now: float, dry_run: bool) -> int:
        """Health rows past their camera's age: deleted, or counted in a dry run. The cameras' current states
        (a table of their own) stay."""
        own = {name: c.health_days for name, c in self.settings.cameras.items() if c.health_days is not None}
        rules = [HealthRow.camera.not_in(own) if own else None]
        ages = [self.settings.health_days]
        for name, days in own.items():
            rules.append(HealthRow.camera == name)
            ages.append(days)
        total = 0
        opened = self.store.read_session() if dry_run else self.store.write_session.begin()  # a dry run only reads
        with self.store.errors("cannot prune the health history of"), opened as session:
            for rule, days in zip(rules, ages, strict=True):
                if days is None:
                    continue
                where = [HealthRow.at < now - days * DAY_S, *([] if rule is None else [rule])]
                if dry_run:
                    total += session.scalar(select(func.count()).select_from(HealthRow).where(*where)) or 0
                else:
                    total += session.execute(delete(HealthRow).where(*where)).rowcount or 0
        return total


def _still_prunable(session: Session, event_id: str) -> str | None:
    # Locks the event's row (PostgreSQL; SQLite's write transaction locks the file): a hold takes it too.
    state = session.scalar(select(EventRow.state).where(EventRow.id == event_id).with_for_update())
    if state is None:
        return "deleted meanwhile"
    if session.get(LegalHoldRow, event_id) is not None:
        return "put under a legal hold meanwhile"
    disposition = session.scalar(select(DispositionRow.disposition).where(DispositionRow.event_id == event_id))
    if state != "closed" or disposition not in FINAL_DISPOSITIONS:
        return "no longer closed and resolved"
    return None


def _delete_files(paths: tuple[str, ...]) -> tuple[list[str], list[str]]:
    """(deleted or already gone, 'PATH: error' for those that could not be)."""
    deleted, failed = [], []
    for path in paths:
        try:
            os.unlink(path)
        except FileNotFoundError:
            pass
        except OSError as error:
            failed.append(f"{path}: {error.strerror or error}")
            continue
        deleted.append(path)
    return deleted, failed


def _clear_paths(session: Session, event_id: str, cleared: list[tuple[str, str]]) -> None:
    for column, path in cleared:
        attribute = getattr(EventRow, column)
        session.execute(update(EventRow).where(EventRow.id == event_id, attribute == path).values({column: None}))


def _delete_event(session: Session, event_id: str) -> None:
    for table in EVENT_HISTORY:
        session.execute(delete(table).where(table.event_id == event_id))
    session.execute(delete(EventRow).where(EventRow.id == event_id))
