"""`gunwatch restore`: a backup written back into the site's store, checked, and its evidence put back.

Refused, before anything is written: a backup of a schema newer than this gunwatch knows, one of the other
database kind, one whose database file does not match its manifest, a store that holds tables already
(unless `replace`), and a store a `watch` is running on.
"""

from __future__ import annotations

import sqlite3
import time
from dataclasses import dataclass

from sqlalchemy import Engine, MetaData, create_engine, inspect, select
from sqlalchemy.engine import URL
from sqlalchemy.exc import SQLAlchemyError

from gunwatch import __version__
from gunwatch.events.backup import pg_tools, sqlite_copy
from gunwatch.events.backup.contents import read_contents
from gunwatch.events.backup.errors import BackupError, reason
from gunwatch.events.backup.evidence import EvidenceRestored, file_digest, restore_evidence
from gunwatch.events.backup.folder import store_label
from gunwatch.events.backup.manifest import Backup
from gunwatch.events.store.engine import make_engine, parse_store_url, sqlite_file
from gunwatch.events.store.migrate import head_revision, known_revisions
from gunwatch.events.store.schema import WatchRunRow

LIVE_RUN_S = 60.0  # a run that has not ended and beat this recently is a `watch` running on the store now


@dataclass(frozen=True)
class Restored:
    backup: Backup
    store: str
    evidence: EvidenceRestored

    @property
    def upgrade_pending(self) -> bool:
        return self.backup.manifest.schema_revision != head_revision()


def restore_backup(store_url: str, backup: Backup, replace: bool = False) -> Restored:
    url = parse_store_url(store_url)
    label = store_label(store_url)
    _check_backup(backup, url)
    engine = _target_engine(url)
    try:
        tables = _check_target(engine, label, replace)
        if url.get_backend_name() == "sqlite":
            file = sqlite_file(url)
            assert file is not None  # _check_backup refused in-memory stores
            engine.dispose()  # no connection of ours stays on the file it writes
            sqlite_copy.copy_in(backup.database, file)
        else:
            if tables:
                _drop_tables(engine)
            pg_tools.restore(url, backup.database)
        with engine.connect() as connection:
            contents = read_contents(connection)
    except (SQLAlchemyError, sqlite3.Error, OSError) as error:
        raise BackupError(f"cannot restore {backup.folder} into {label}: {reason(error)}") from error
    finally:
        engine.dispose()
    if contents.digest != backup.manifest.contents_sha256:
        raise BackupError(f"{label} does not hold what {backup.folder} holds after the restore (rows by table: "
                          f"{contents.rows}, expected {backup.manifest.rows}): restore it again")
    try:
        evidence = restore_evidence(backup.manifest.evidence, backup.folder)
    except OSError as error:  # a full or read-only evidence disk: the store is restored, the files are not
        raise BackupError(f"restored the store {label}, but not the evidence of {backup.folder}: {error}") from error
    return Restored(backup, label, evidence)


def _check_backup(backup: Backup, url: URL) -> None:
    manifest = backup.manifest
    if manifest.schema_revision not in known_revisions():
        raise BackupError(
            f"{backup.folder} is a backup of schema revision {manifest.schema_revision}, newer than this gunwatch "
            f"{__version__} knows (its newest is {head_revision()}): restore it with gunwatch "
            f"{manifest.gunwatch_version}, which took it, or a later one")
    dialect = url.get_backend_name()
    if manifest.dialect != dialect:
        raise BackupError(f"{backup.folder} is a backup of a {manifest.dialect} store; the site's store is "
                          f"{dialect}: a backup restores into a store of its own kind")
    if dialect == "sqlite" and sqlite_file(url) is None:
        raise BackupError("a backup cannot be restored into an in-memory SQLite store")
    digest, _ = file_digest(backup.database)
    if digest != manifest.database_sha256:
        state = "is missing" if digest is None else "does not match the manifest's SHA-256 (damaged or changed)"
        raise BackupError(f"{backup.database} {state}: this backup cannot be restored")


def _target_engine(url: URL) -> Engine:
    file = sqlite_file(url)
    # A plain engine on a SQLite file that may not exist yet: reading its tables must not create it.
    return create_engine(f"sqlite:///{file}") if file is not None and not file.exists() else make_engine(url)


def _check_target(engine: Engine, label: str, replace: bool) -> list[str]:
    """The store's tables; BackupError when a watch runs on it, or when it has tables and `replace` is off."""
    file = sqlite_file(engine.url)
    if file is not None and not file.exists():
        return []
    with engine.connect() as connection:
        tables = inspect(connection).get_table_names()
        if WatchRunRow.__tablename__ in tables:
            query = select(WatchRunRow.host, WatchRunRow.pid, WatchRunRow.heartbeat_at).where(
                WatchRunRow.ending.is_(None))
            live = [(host, pid) for host, pid, beat in connection.execute(query) if beat > time.time() - LIVE_RUN_S]
            if live:
                host, pid = live[0]
                raise BackupError(f"gunwatch watch is running on {label} (pid {pid} on {host}): stop it first")
    if tables and not replace:
        raise BackupError(f"{label} holds a store already ({len(tables)} tables): the restore would replace it; "
                          "add --replace to do so (take a backup of it first if it may be needed)")
    return tables


def _drop_tables(engine: Engine) -> None:
    """Every table of the database, in one transaction (PostgreSQL: pg_restore wants an empty database)."""
    with engine.begin() as connection:
        metadata = MetaData()
        metadata.reflect(connection)
        metadata.drop_all(connection)
