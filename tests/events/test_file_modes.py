"""The store and the evidence are readable by gunwatch's own account only: files 0600, new folders 0700."""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from gunwatch.events.clips import write_clip
from gunwatch.events.evidence import write_snapshots
from gunwatch.events.model import ThreatEvent
from gunwatch.events.private import create_private_file, make_private_dirs, open_private
from gunwatch.events.store import EventStore
from gunwatch.inference.detections import Detections
from gunwatch.video.frame import Frame

OPENED = 1_700_000_000.0


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.fixture(autouse=True)
def usual_umask() -> Iterator[None]:
    """The common default (022), under which a plain open() makes files world-readable."""
    previous = os.umask(0o022)
    yield
    os.umask(previous)


def test_a_new_sqlite_store_and_its_wal_files_are_private(tmp_path: Path) -> None:
    database = tmp_path / "state" / "gunwatch.db"
    store = EventStore(f"sqlite:///{database}")
    try:
        store.record_health("lobby", "online", "receiving 640x360 frames")
        files = [database, *(database.with_name(database.name + end) for end in ("-wal", "-shm"))]
        assert all(path.exists() for path in files)  # open: WAL mode keeps both beside the database
        assert {path.name: mode(path) for path in files} == {path.name: 0o600 for path in files}
        assert mode(database.parent) == 0o700
    finally:
        store._engine.dispose()


def test_snapshots_and_their_folders_are_private(tmp_path: Path) -> None:
    event = ThreatEvent("lobby", "open", OPENED - 1, OPENED, OPENED, 0.9, (100, 80, 300, 240))
    frame = Frame("lobby", np.full((120, 160, 3), 90, np.uint8), 7, 1.4, OPENED)
    runs = tmp_path / "runs"
    runs.mkdir(mode=0o755)
    folder = runs / "evidence"
    clean, annotated = write_snapshots(event, frame, Detections([[10, 10, 50, 50]], [0.9], [1]), folder,
                                       class_names=("person", "handgun"))
    assert (mode(clean), mode(annotated)) == (0o600, 0o600)
    assert (mode(folder), mode(clean.parent)) == (0o700, 0o700)
    assert mode(runs) == 0o755  # a folder that was there is left as it was


def test_clips_are_private(tmp_path: Path) -> None:
    frames = [Frame("lobby", np.full((96, 128, 3), i * 20, np.uint8), i, i / 5, OPENED + i / 5) for i in range(6)]
    clip = tmp_path / "evidence" / "lobby" / "clip.mp4"
    write_clip(frames, clip)
    assert clip.stat().st_size > 0 and mode(clip) == 0o600
    assert mode(clip.parent) == mode(clip.parent.parent) == 0o700


def test_a_leftover_file_is_made_private_and_an_existing_one_kept(tmp_path: Path) -> None:
    leftover = tmp_path / "snap.jpg.part"
    leftover.write_bytes(b"old")
    leftover.chmod(0o644)
    with open_private(leftover) as out:
        out.write(b"new")
    assert leftover.read_bytes() == b"new" and mode(leftover) == 0o600
    assert create_private_file(tmp_path / "a" / "b" / "new.db") and mode(tmp_path / "a" / "b" / "new.db") == 0o600
    assert not create_private_file(leftover)  # there already: not emptied
    assert leftover.read_bytes() == b"new"
    make_private_dirs(tmp_path / "a" / "b" / "c")
    assert mode(tmp_path / "a") == mode(tmp_path / "a" / "b" / "c") == 0o700
