"""A store that cannot be used says which one (its URL, password hidden) and why."""

from __future__ import annotations

from pathlib import Path

import pytest

from gunwatch.events.store import EventStore, StoreError, StoreMissing


def test_an_unreachable_server_is_named_without_its_password(refused_port: int) -> None:
    port = refused_port
    with pytest.raises(StoreError) as caught:
        EventStore(f"postgresql://gunwatch:s3cret@127.0.0.1:{port}/events")
    message = str(caught.value)
    assert f"cannot open the event store postgresql://gunwatch:***@127.0.0.1:{port}/events: " in message
    assert "refused" in message.lower()
    assert "s3cret" not in message


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("not a url", "Could not parse"),
        ("mysql://root:s3cret@db/events", "unsupported database mysql://; accepted: sqlite, postgresql"),
        ("postgres://root:s3cret@db/events", "write postgresql://, not postgres://"),
    ],
)
def test_a_url_that_is_not_a_supported_database_is_refused(url: str, reason: str) -> None:
    with pytest.raises(StoreError, match=r"^cannot use .* as the event store: ") as caught:
        EventStore(url)
    assert reason in str(caught.value)
    assert "s3cret" not in str(caught.value)


def test_a_missing_sqlite_file_is_not_created_when_only_reading(tmp_path: Path) -> None:
    path = tmp_path / "runs" / "gunwatch.db"
    with pytest.raises(StoreMissing) as caught:
        EventStore(f"sqlite:///{path}", create=False)
    assert str(caught.value) == f"no event store at {path}"
    assert not path.parent.exists()


def test_a_missing_sqlite_folder_is_created_when_writing(tmp_path: Path) -> None:
    path = tmp_path / "runs" / "nested" / "gunwatch.db"
    EventStore(f"sqlite:///{path}").close()
    assert path.is_file()


def test_a_sqlite_file_that_cannot_be_created_is_named(tmp_path: Path) -> None:
    blocker = tmp_path / "runs"
    blocker.write_text("a file where the folder should be")
    with pytest.raises(StoreError) as caught:
        EventStore(f"sqlite:///{blocker}/gunwatch.db")
    assert str(caught.value).startswith(f"cannot open the event store sqlite:///{blocker}/gunwatch.db: ")


def test_a_file_that_is_not_a_database_is_named(tmp_path: Path) -> None:
    path = tmp_path / "notes.db"
    path.write_text("not a database\n" * 100)
    with pytest.raises(StoreError) as caught:
        EventStore(f"sqlite:///{path}")
    assert str(caught.value) == f"cannot open the event store sqlite:///{path}: file is not a database"
