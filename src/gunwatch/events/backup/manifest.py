"""A backup's manifest (`manifest.json`), and the backups found in a folder.

The manifest is written last, through a temporary file and a rename: a backup cut off half-way has none,
and is not counted as a backup.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from gunwatch.events.backup.errors import BackupError
from gunwatch.events.private import open_private

MANIFEST = "manifest.json"
FORMAT = 1  # the manifest's own layout; a restore refuses one it does not know


@dataclass(frozen=True)
class EvidenceFile:
    """A file an event names. `size` and `sha256` are None when the file was gone at backup time (pruned,
    moved); `copy` is where the backup holds it (relative to the backup), None when it was not copied."""

    event: str
    kind: str  # snapshot, annotated or clip
    path: str  # as the event names it: relative to where gunwatch runs, or absolute
    size: int | None
    sha256: str | None
    copy: str | None = None


@dataclass(frozen=True)
class Manifest:
    gunwatch_version: str
    taken_at: float  # epoch seconds
    dialect: str  # sqlite or postgresql: a backup restores into a store of the same kind
    store: str  # the store's URL, its password hidden (an SQLite file: its absolute path)
    schema_revision: str | None
    database: str  # the database's file in the backup folder
    database_sha256: str
    rows: dict[str, int]
    contents_sha256: str  # contents.read_contents' digest of the backed-up rows
    evidence: list[EvidenceFile] = field(default_factory=list)
    format: int = FORMAT

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any], source: Path) -> Manifest:
        if data.get("format") != FORMAT:
            raise BackupError(f"{source}: manifest format {data.get('format')!r} is not one this gunwatch reads "
                              f"({FORMAT})")
        try:
            evidence = [EvidenceFile(**entry) for entry in data.get("evidence", [])]
            return cls(**{**data, "evidence": evidence})
        except TypeError as error:
            raise BackupError(f"{source}: not a gunwatch backup manifest ({error})") from None


@dataclass(frozen=True)
class Backup:
    folder: Path
    manifest: Manifest

    @property
    def database(self) -> Path:
        return self.folder / self.manifest.database


def write_manifest(folder: Path, manifest: Manifest) -> None:
    temporary = folder / f".{MANIFEST}.part"
    with open_private(temporary) as file:
        file.write(json.dumps(manifest.to_json(), indent=2).encode())
        file.flush()
        os.fsync(file.fileno())
    temporary.replace(folder / MANIFEST)


def read_backup(folder: Path) -> Backup:
    """The backup in `folder` (or the folder of a manifest file given instead)."""
    folder = folder.parent if folder.name == MANIFEST else folder
    path = folder / MANIFEST
    try:
        data = json.loads(path.read_text())
    except FileNotFoundError:
        raise BackupError(f"{folder} is not a backup: it has no {MANIFEST} (a backup cut off before its end "
                          "has none)") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise BackupError(f"cannot read {path}: {error}") from None
    if not isinstance(data, dict):
        raise BackupError(f"{path}: not a gunwatch backup manifest")
    return Backup(folder, Manifest.from_json(data, path))


def list_backups(folder: Path) -> list[Backup]:
    """The backups in `folder` whose manifest reads, oldest first; other entries are passed over."""
    if not folder.is_dir():
        return []
    found = []
    for child in folder.iterdir():
        if (child / MANIFEST).is_file():
            try:
                found.append(read_backup(child))
            except BackupError:
                continue  # not ours, or from a gunwatch with another manifest format: not a backup to count
    return sorted(found, key=lambda backup: backup.manifest.taken_at)
