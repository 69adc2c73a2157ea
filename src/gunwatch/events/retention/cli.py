"""`gunwatch prune` and `gunwatch event hold / unhold`: retention from the command line.

The store's modules (SQLAlchemy) are imported when a command runs: `gunwatch --help` stays quick.
"""

from __future__ import annotations

import getpass
import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

if TYPE_CHECKING:
    from gunwatch.events.retention.prune import PruneReport
    from gunwatch.events.store import EventStore

EventArgument = Annotated[str, typer.Argument(
    help="the event's id, or its first characters (at least 6, as `gunwatch watch` prints it)")]
StoreOption = Annotated[
    str | None, typer.Option("--store", help="database URL (default: the --config file's, else sqlite:///runs/gunwatch.db)")
]
SiteOption = Annotated[Path | None, typer.Option("--config", "-c", help="site YAML file whose store to use")]
ActorOption = Annotated[str | None, typer.Option("--by", help="who is acting (default: cli:USER)")]
ReasonOption = Annotated[str | None, typer.Option(help="why, for the audit log (a case number, a request)")]


def prune(
    config: Annotated[Path, typer.Option("--config", "-c", help="site YAML file (its retention, evidence and store)")],
    dry_run: Annotated[bool, typer.Option("--dry-run", help="show what would be pruned, change nothing")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="JSON on stdout; the report goes to stderr")] = False,
) -> None:
    """Prune by the site's retention section, oldest first: events and evidence past their age, evidence over
    the size limit or below the disk's free-space floor, old health history. Never an open, unresolved or held
    event. Exit 1 when the disk stays below its floor."""
    from gunwatch.config import ConfigError, load_site_config
    from gunwatch.events.retention.prune import Pruner
    from gunwatch.events.store import EventStore, StoreError, StoreMissing

    try:
        site = load_site_config(config)
        with EventStore(site.store.url, create=False, upgrade=False) as store:
            report = Pruner(store, site.retention, site.evidence.folder).run(dry_run=dry_run)
    except StoreMissing as error:
        _say(f"{error}: nothing recorded yet, nothing to prune")
        return
    except ConfigError as error:
        for problem in error.problems:
            _say(f"error: {problem}")
        raise typer.Exit(code=2) from error
    except StoreError as error:
        raise _fail(str(error)) from error
    for line in report_lines(report):
        _say(line)
    if as_json:
        typer.echo(json.dumps(report_json(report)))
    if report.below_floor:
        raise typer.Exit(code=1)


def event_hold(event_id: EventArgument, config: SiteOption = None, store: StoreOption = None,
               by: ActorOption = None, reason: ReasonOption = None) -> None:
    """Put an event under a legal hold: retention keeps its evidence and its record until the hold is lifted."""
    from gunwatch.events.retention.holds import LegalHolds

    with _open_store(store, config) as opened:
        event_id = _resolve(opened, event_id)
        held = LegalHolds(opened).hold(event_id, by or _default_actor(), reason)
    _say(f"event {event_id}: " + ("under a legal hold" if held else "under a legal hold already"))


def event_unhold(event_id: EventArgument, config: SiteOption = None, store: StoreOption = None,
                 by: ActorOption = None, reason: ReasonOption = None) -> None:
    """Lift an event's legal hold: retention may prune it again once it is closed and resolved."""
    from gunwatch.events.retention.holds import LegalHolds

    with _open_store(store, config) as opened:
        event_id = _resolve(opened, event_id)
        lifted = LegalHolds(opened).unhold(event_id, by or _default_actor(), reason)
    if not lifted:
        raise _fail(f"event {event_id} is not under a legal hold")
    _say(f"event {event_id}: legal hold lifted")


# --- the report ------------------------------------------------------------------------------------------------

def report_lines(report: PruneReport) -> list[str]:
    from gunwatch.events.retention.disk import size_text

    would = "would be " if report.dry_run else ""
    lines = []
    for prune in report.done:
        what = "event deleted" if prune.what == "event" else "evidence pruned"
        lines.append(f"{prune.candidate.event_id[:8]}  {prune.candidate.camera}  {would}{what}"
                     f" ({len(prune.candidate.files)} files, {size_text(prune.space)}): {prune.reason}")
    for prune, why in report.spared:
        lines.append(f"{prune.candidate.event_id[:8]}  {prune.candidate.camera}  spared: {why}")
    plan = report.plan
    lines.append(f"{len(report.done)} event(s) {would}pruned, {size_text(sum(p.space for p in report.done))} "
                 f"{would}freed; {report.health_rows} health record(s) {would}deleted")
    if report.strays:
        lines.append(f"{len(report.strays)} half-written file(s) of a crashed writer {would}deleted "
                     f"({size_text(sum(stray.size for stray in report.strays))})")
    floor = f"{size_text(report.free_after)} free on the evidence disk (floor {size_text(plan.floor)})"
    if report.below_floor:
        floor += ": BELOW THE FLOOR, nothing more may be pruned (open, unresolved or held events)"
    lines.append(floor)
    return lines


def report_json(report: PruneReport) -> dict[str, object]:
    return {
        "dry_run": report.dry_run,
        "pruned": [{"event_id": p.candidate.event_id, "camera": p.candidate.camera, "what": p.what,
                    "reason": p.reason, "files": list(p.candidate.files), "bytes": p.space} for p in report.done],
        "spared": [{"event_id": p.candidate.event_id, "reason": why} for p, why in report.spared],
        "health_records": report.health_rows,
        "partials": [{"path": str(stray.path), "bytes": stray.size} for stray in report.strays],
        "free_bytes": report.free_after,
        "floor_bytes": report.plan.floor,
        "below_floor": report.below_floor,
    }


# --- helpers ---------------------------------------------------------------------------------------------------

@contextmanager
def _open_store(url: str | None, site_file: Path | None) -> Iterator[EventStore]:
    from gunwatch.config import ConfigError
    from gunwatch.events.store import EventStore, StoreError
    from gunwatch.events.store.location import resolve_store_url

    try:
        store = EventStore(resolve_store_url(url, site_file), create=False, upgrade=False)
    except ConfigError as error:
        for problem in error.problems:
            _say(f"error: {problem}")
        raise typer.Exit(code=2) from error
    except (StoreError, ValueError) as error:  # StoreMissing among them: no store, no event to hold
        raise _fail(str(error)) from error
    try:
        yield store
    except StoreError as error:
        raise _fail(str(error)) from error
    finally:
        store.close()


def _resolve(store: EventStore, text: str) -> str:
    from gunwatch.events.store import UnknownEventId

    try:
        return store.resolve_id(text)
    except UnknownEventId as error:
        raise _fail(str(error)) from None


def _default_actor() -> str:
    try:
        return f"cli:{getpass.getuser()}"
    except (KeyError, OSError):  # no user name in a container
        return "cli"


def _fail(message: str) -> typer.Exit:
    typer.echo(f"error: {message}", err=True)
    return typer.Exit(code=2)


def _say(text: str) -> None:
    typer.echo(text, err=True)
