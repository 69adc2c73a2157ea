"""`gunwatch backup`: the store copied consistently, its contents and evidence indexed, the manifest last.

SQLite: the online backup API copies the file while `watch` may write; the index and digest are read from
the copy. PostgreSQL: one REPEATABLE READ transaction exports its snapshot, reads the index and digest, and
`pg_dump --snapshot` dumps exactly what that transaction sees.
"""

from __future__ import annotations

import shutil
import time
from pathlib import Path

from sqlalchemy import create_engine, text
from sqlalchemy.engine import URL, Connection
from sqlalchemy.exc import SQLAlchemyError

from gunwatch import __version__
from gunwatch.events.backup import pg_tools, sqlite_copy
from gunwatch.events.backup.contents import StoreContents, read_contents
from gunwatch.events.backup.errors import BackupError, reason
from gunwatch.events.backup.evidence import evidence_names, file_digest, index_evidence
from gunwatch.events.backup.folder import backup_name, staging_folder, store_label
from gunwatch.events.backup.manifest import Backup, EvidenceFile, Manifest, write_manifest
from gunwatch.events.private import create_private_file
from gunwatch.events.store.engine import make_engine, parse_store_url, sqlite_file

SQLITE_DATABASE = "store.sqlite"
POSTGRES_DATABASE = "store.dump"


def take_backup(store_url: str, parent: Path, with_evidence: bool = False) -> Backup:
    """A new backup of the store in a new folder of `parent`; BackupError when the store cannot be read or
    copied (what was written is removed again)."""
    url = parse_store_url(store_url)
    label = store_label(store_url)
    taken_at = time.time()
    staging = staging_folder(parent)
    try:
        database, contents, evidence = _copy_database(url, staging, with_evidence)
        if contents.revision is None:
            raise BackupError(f"{label} holds no gunwatch store (no schema revision): nothing to back up")
        digest, _ = file_digest(database)
        assert digest is not None  # written just now
        manifest = Manifest(__version__, taken_at, url.get_backend_name(), label, contents.revision, database.name,
                            digest, contents.rows, contents.digest, evidence)
        folder = backup_name(parent, contents.revision, taken_at)
        staging.rename(folder)
        write_manifest(folder, manifest)  # last: until now, the folder is no backup
        return Backup(folder, manifest)
    except BaseException as error:
        shutil.rmtree(staging, ignore_errors=True)
        if isinstance(error, (SQLAlchemyError, OSError)):
            raise BackupError(f"cannot back up {label} into {parent}: {reason(error)}") from error
        raise


def _copy_database(url: URL, folder: Path, with_evidence: bool) -> tuple[Path, StoreContents, list[EvidenceFile]]:
    file = sqlite_file(url)
    if url.get_backend_name() == "sqlite":
        if file is None:
            raise BackupError("an in-memory SQLite store cannot be backed up")
        if not file.is_file():
            raise BackupError(f"no event store at {file}: nothing to back up")
        target = folder / SQLITE_DATABASE
        try:
            sqlite_copy.copy_out(file, target)
        except Exception as error:  # sqlite3.Error, OSError: a locked, corrupt or unreadable file
            raise BackupError(f"cannot copy the event store {file}: {error}") from error
        engine = create_engine(f"sqlite:///{target}")
        try:
            with engine.connect() as connection:
                return target, *_read(connection, folder, with_evidence)
        finally:
            engine.dispose()
    target = folder / POSTGRES_DATABASE
    create_private_file(target)  # pg_dump writes into it, keeping its 0600
    engine = make_engine(url)
    try:
        with engine.connect() as connection:
            connection = connection.execution_options(isolation_level="REPEATABLE READ")
            with connection.begin():
                snapshot = connection.execute(text("SELECT pg_export_snapshot()")).scalar_one()
                contents, evidence = _read(connection, folder, with_evidence)
                pg_tools.dump(url, target, snapshot)  # while this transaction holds the snapshot
        return target, contents, evidence
    finally:
        engine.dispose()


def _read(connection: Connection, folder: Path, with_evidence: bool) -> tuple[StoreContents, list[EvidenceFile]]:
    contents = read_contents(connection)
    names = evidence_names(connection) if contents.revision is not None else []
    return contents, index_evidence(names, folder if with_evidence else None)
