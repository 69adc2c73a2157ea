"""The evidence index: each file the events name, with its size and SHA-256; its copies in a backup; and
putting those copies back.

Paths are as the events name them (relative to where gunwatch runs, or absolute), so run `gunwatch backup`
and `restore` from the folder `watch` runs in. A restore never overwrites a file: one that is there with
other contents is reported, and left.
"""

from __future__ import annotations

import hashlib
import shutil
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import column, select, table
from sqlalchemy.engine import Connection

from gunwatch.events.backup.manifest import EvidenceFile
from gunwatch.events.private import make_private_dirs, open_private

KINDS = ("snapshot", "annotated", "clip")
EVIDENCE_FOLDER = "evidence"
CHUNK = 1 << 20


def evidence_names(connection: Connection) -> list[tuple[str, str, str]]:
    """(event id, kind, path) of every file the store's events name, by event and kind."""
    events = table("threat_events", column("id"), *(column(kind) for kind in KINDS))
    named = []
    for row in connection.execute(select(events).order_by(events.c.id)):
        named += [(row.id, kind, path) for kind in KINDS if (path := getattr(row, kind))]
    return named


def index_evidence(names: list[tuple[str, str, str]], backup: Path | None) -> list[EvidenceFile]:
    """The index of these files; with `backup`, each file copied into its evidence/ folder too (one copy per
    contents, named by its SHA-256)."""
    index = []
    for event, kind, path in names:
        digest, size = file_digest(Path(path))
        copy = None
        if backup is not None and digest is not None:
            copy = f"{EVIDENCE_FOLDER}/{digest}{Path(path).suffix}"
            if not (backup / copy).exists():
                _copy_private(Path(path), backup / copy)
        index.append(EvidenceFile(event, kind, path, size, digest, copy))
    return index


def file_digest(path: Path) -> tuple[str | None, int | None]:
    """(SHA-256, size) of the file, or (None, None) when it is not there."""
    digest = hashlib.sha256()
    size = 0
    try:
        with path.open("rb") as file:
            while chunk := file.read(CHUNK):
                digest.update(chunk)
                size += len(chunk)
    except (FileNotFoundError, IsADirectoryError):
        return None, None
    return digest.hexdigest(), size


@dataclass
class EvidenceRestored:
    written: list[str] = field(default_factory=list)  # put back where the event names them
    present: list[str] = field(default_factory=list)  # there already, with the backed-up contents
    conflicting: list[str] = field(default_factory=list)  # there with other contents: left as they are
    not_copied: list[str] = field(default_factory=list)  # indexed only (a backup without --with-evidence)
    missing_at_backup: list[str] = field(default_factory=list)  # already gone when the backup was taken


def restore_evidence(index: list[EvidenceFile], backup: Path) -> EvidenceRestored:
    restored = EvidenceRestored()
    for entry in index:
        target = Path(entry.path)
        if entry.sha256 is None:
            restored.missing_at_backup.append(entry.path)
            continue
        there, _ = file_digest(target)
        if there == entry.sha256:
            restored.present.append(entry.path)
        elif there is not None:
            restored.conflicting.append(entry.path)
        elif entry.copy is None or not (backup / entry.copy).is_file():
            restored.not_copied.append(entry.path)
        else:
            _copy_private(backup / entry.copy, target)
            restored.written.append(entry.path)
    return restored


def _copy_private(source: Path, target: Path) -> None:
    """Copy through a `.part` file renamed at the end, 0600 in folders made 0700 (pictures of people)."""
    make_private_dirs(target.parent)
    partial = target.with_name(f".{target.name}.part")
    with source.open("rb") as reader, open_private(partial) as writer:
        shutil.copyfileobj(reader, writer, CHUNK)
    partial.replace(target)
