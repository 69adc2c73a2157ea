"""`gunwatch backup` and `gunwatch restore`, registered on the main app by gunwatch.cli.

Both read the site file for its store section only (a channel's password left unset stops neither). Evidence
paths are as the events name them: run both from the folder `watch` runs in.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

# The store's modules (SQLAlchemy) are imported when a command runs: `gunwatch --help` stays quick.
if TYPE_CHECKING:
    from gunwatch.config.sections import StoreSettings
    from gunwatch.events.backup.manifest import Backup
    from gunwatch.events.backup.restore import Restored

ConfigOption = Annotated[Path, typer.Option("--config", "-c", help="site YAML file whose store to use")]
JsonOption = Annotated[bool, typer.Option("--json", help="the manifest (and what was done) as JSON on stdout")]


def backup_command(
    config: ConfigOption,
    out: Annotated[Path | None, typer.Option(
        "--out", help="folder to write the backup in (default: the site file's store.backups, which watch looks "
                      "in before an upgrade)")] = None,
    with_evidence: Annotated[bool, typer.Option(
        "--with-evidence", help="copy the evidence files too (default: only their index: paths, sizes, SHA-256)")
    ] = False,
    keep: Annotated[int | None, typer.Option(
        "--keep", min=1, help="then delete this store's oldest backups in that folder until N are left (default: "
                              "keep all)")] = None,
    as_json: JsonOption = False,
) -> None:
    """Back up the event store, consistently while watch runs, with the index of its evidence files."""
    from gunwatch.events.backup.folder import backups_folder
    from gunwatch.events.backup.rotation import rotate_backups
    from gunwatch.events.backup.take import take_backup
    from gunwatch.events.store import StoreError

    settings = _store_settings(config)
    folder = out if out is not None else backups_folder(settings)
    try:
        backup = take_backup(settings.url, folder, with_evidence)
        deleted = rotate_backups(folder, backup, keep) if keep is not None else []
    except (StoreError, ValueError, OSError) as error:
        raise _fail(str(error)) from error
    manifest = backup.manifest
    copied = sum(1 for entry in manifest.evidence if entry.copy is not None)
    missing = sum(1 for entry in manifest.evidence if entry.sha256 is None)
    _say(f"backed up {manifest.store} (schema {manifest.schema_revision}, {manifest.rows.get('threat_events', 0)} "
         f"events) to {backup.folder}: {len(manifest.evidence)} evidence files indexed, {copied} copied"
         + (f", {missing} already gone" if missing else ""))
    for old in deleted:
        _say(f"deleted the older backup {old} (--keep {keep})")
    typer.echo(json.dumps(_backup_json(backup), indent=2) if as_json else str(backup.folder))


def restore_command(
    backup: Annotated[Path, typer.Argument(help="the backup's folder (as `gunwatch backup` printed it)")],
    config: ConfigOption,
    replace: Annotated[bool, typer.Option(
        "--replace", help="replace the store's tables when it has some (they are lost: back them up first)")
    ] = False,
    as_json: JsonOption = False,
) -> None:
    """Restore a backup into the site's store (watch stopped), and put back the evidence files it copied."""
    from gunwatch.events.backup.manifest import read_backup
    from gunwatch.events.backup.restore import restore_backup
    from gunwatch.events.store import StoreError

    settings = _store_settings(config)
    try:
        restored = restore_backup(settings.url, read_backup(backup), replace)
    except (StoreError, ValueError) as error:
        raise _fail(str(error)) from error
    for line in _restore_lines(restored):
        _say(line)
    if as_json:
        evidence = restored.evidence
        typer.echo(json.dumps({**_backup_json(restored.backup), "store": restored.store,
                               "evidence_restored": vars(evidence)}, indent=2))


def _store_settings(config: Path) -> StoreSettings:
    from gunwatch.config import ConfigError, load_store_settings

    try:
        return load_store_settings(config)
    except ConfigError as error:
        for problem in error.problems:
            _say(f"error: {problem}")
        raise typer.Exit(code=2) from error


def _backup_json(backup: Backup) -> dict[str, object]:
    return {"folder": str(backup.folder), "manifest": backup.manifest.to_json()}


def _restore_lines(restored: Restored) -> list[str]:
    manifest, evidence = restored.backup.manifest, restored.evidence
    lines = [f"restored {restored.backup.folder} (taken by gunwatch {manifest.gunwatch_version}, schema "
             f"{manifest.schema_revision}) into {restored.store}"]
    if restored.upgrade_pending:
        lines.append("its schema is older than this gunwatch's: the next watch upgrades it once a backup holds it "
                     "(this one does, from the store's backups folder)")
    lines.append(f"evidence: {len(evidence.written)} files put back, {len(evidence.present)} there already")
    if evidence.not_copied:
        lines.append(f"evidence: {len(evidence.not_copied)} files missing and not in the backup (taken without "
                     f"--with-evidence), e.g. {evidence.not_copied[0]}")
    if evidence.conflicting:
        lines.append(f"warning: {len(evidence.conflicting)} evidence files differ from the backup's and were left "
                     f"as they are: {', '.join(evidence.conflicting[:5])}")
    if evidence.missing_at_backup:
        lines.append(f"evidence: {len(evidence.missing_at_backup)} files were already gone when it was taken")
    return lines


def _fail(message: str) -> typer.Exit:
    typer.echo(f"error: {message}", err=True)
    return typer.Exit(code=2)


def _say(text: str) -> None:
    typer.echo(text, err=True)
