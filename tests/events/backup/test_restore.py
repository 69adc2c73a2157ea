"""Backup -> restore round trips on SQLite and PostgreSQL (rows, manifest and evidence equal), and what a
restore refuses before it writes anything."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, text

from gunwatch.events.backup import BackupError
from gunwatch.events.backup.manifest import read_backup
from gunwatch.events.backup.restore import restore_backup
from gunwatch.events.backup.take import take_backup
from gunwatch.events.store import EventStore
from gunwatch.events.store.engine import parse_store_url
from gunwatch.events.store.migrate import head_revision
from gunwatch.events.store.runs import RunLog

Rows = Callable[[str], dict[str, list[tuple[Any, ...]]]]


def test_round_trip_gives_back_every_row_and_the_evidence(populated: str, empty_url: str, tmp_path: Path,
                                                          rows_of: Rows) -> None:
    before = rows_of(populated)
    backup = take_backup(populated, tmp_path / "backups", with_evidence=True)
    snapshot, clip = Path(backup.manifest.evidence[0].path), Path(backup.manifest.evidence[1].path)
    originals = {snapshot: snapshot.read_bytes(), clip: clip.read_bytes()}
    snapshot.unlink()
    clip.unlink()

    restored = restore_backup(empty_url, read_backup(backup.folder))

    assert rows_of(empty_url) == before
    assert sorted(restored.evidence.written) == sorted(str(path) for path in originals)
    assert restored.evidence.missing_at_backup == [backup.manifest.evidence[2].path]
    assert {path: path.read_bytes() for path in originals} == originals
    again = take_backup(empty_url, tmp_path / "backups-of-restored")
    assert (again.manifest.rows, again.manifest.contents_sha256) == (backup.manifest.rows,
                                                                     backup.manifest.contents_sha256)
    assert [(e.event, e.kind, e.path, e.size, e.sha256) for e in again.manifest.evidence] == \
           [(e.event, e.kind, e.path, e.size, e.sha256) for e in backup.manifest.evidence]
    with EventStore(empty_url) as store:  # the restored store is a working store
        assert [event.id for event in store.list_events()] == ["evt-second", "evt-first"]


def test_the_manifest_indexes_each_evidence_file_and_records_the_revision(populated: str, tmp_path: Path) -> None:
    backup = take_backup(populated, tmp_path / "backups")
    manifest = json.loads((backup.folder / "manifest.json").read_text())
    assert manifest["schema_revision"] == head_revision()
    assert manifest["gunwatch_version"]
    assert manifest["rows"]["threat_events"] == 2 and manifest["rows"]["camera_health"] == 3
    snapshot, clip, gone = manifest["evidence"]
    assert (snapshot["event"], snapshot["kind"], snapshot["size"]) == ("evt-first", "snapshot", 12)
    assert (clip["kind"], clip["size"], clip["copy"]) == ("clip", 6000, None)  # indexed, not copied
    assert (gone["event"], gone["size"], gone["sha256"]) == ("evt-second", None, None)
    assert not (backup.folder / "evidence").exists()
    assert {path.stat().st_mode & 0o777 for path in backup.folder.iterdir()} == {0o600}


def test_a_backup_is_the_store_as_it_was_when_taken(populated: str, empty_url: str, tmp_path: Path,
                                                   rows_of: Rows) -> None:
    before = rows_of(populated)
    backup = take_backup(populated, tmp_path / "backups")
    with EventStore(populated) as store:  # watch goes on writing
        store.record_health("lobby", "online", at=time.time())
    restore_backup(empty_url, backup)
    assert rows_of(empty_url) == before


def test_restore_refuses_a_backup_of_a_newer_schema(populated: str, empty_url: str, tmp_path: Path) -> None:
    engine = create_engine(parse_store_url(populated))
    with engine.begin() as connection:  # as a later gunwatch would have left it
        connection.execute(text("UPDATE alembic_version SET version_num = '0999'"))
    engine.dispose()
    backup = take_backup(populated, tmp_path / "backups")
    assert backup.manifest.schema_revision == "0999"
    with pytest.raises(BackupError, match=r"schema revision 0999, newer than this gunwatch .* knows"):
        restore_backup(empty_url, backup)
    if empty_url.startswith("sqlite"):
        assert not Path(parse_store_url(empty_url).database).exists()


def test_restore_refuses_to_replace_a_store_unless_told(populated: str, tmp_path: Path, t0: float,
                                                        rows_of: Rows) -> None:
    backup = take_backup(populated, tmp_path / "backups")
    with EventStore(populated) as store:
        store.record_health("lobby", "online", at=t0 + 500)
    after = rows_of(populated)
    with pytest.raises(BackupError, match="add --replace"):
        restore_backup(populated, backup)
    assert rows_of(populated) == after
    restore_backup(populated, backup, replace=True)
    assert len(rows_of(populated)["camera_health"]) == 3


def test_restore_refuses_a_store_a_watch_runs_on(populated: str, tmp_path: Path) -> None:
    backup = take_backup(populated, tmp_path / "backups")
    with EventStore(populated) as store:
        RunLog(store).begin("host-b", 99, ["lobby"])  # beating now
    with pytest.raises(BackupError, match=r"gunwatch watch is running on .* \(pid 99 on host-b\): stop it first"):
        restore_backup(populated, backup, replace=True)


def test_restore_refuses_a_damaged_backup(populated: str, empty_url: str, tmp_path: Path) -> None:
    backup = take_backup(populated, tmp_path / "backups")
    with backup.database.open("r+b") as database:
        database.seek(200)
        database.write(b"\x00garbage")
    with pytest.raises(BackupError, match=r"does not match the manifest's SHA-256"):
        restore_backup(empty_url, backup)


@pytest.mark.parametrize("store_url", ["sqlite"], indirect=True)
def test_restore_refuses_a_backup_of_the_other_database_kind(populated: str, tmp_path: Path) -> None:
    backup = take_backup(populated, tmp_path / "backups")
    with pytest.raises(BackupError, match="a backup of a sqlite store; the site's store is postgresql"):
        restore_backup("postgresql://gunwatch@127.0.0.1:1/none", backup)


def test_a_folder_without_manifest_is_no_backup(tmp_path: Path) -> None:
    (tmp_path / "half").mkdir()
    with pytest.raises(BackupError, match=r"has no manifest\.json"):
        read_backup(tmp_path / "half")
