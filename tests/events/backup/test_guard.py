"""What `watch` checks before the store opens (and upgrades): a backup that holds what the store holds now."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from gunwatch.config.sections import StoreSettings
from gunwatch.events.backup import UpgradeRefused
from gunwatch.events.backup.folder import backups_folder
from gunwatch.events.backup.guard import check_upgrade
from gunwatch.events.backup.take import take_backup
from gunwatch.events.store import EventStore
from gunwatch.events.store.engine import parse_store_url
from gunwatch.events.store.errors import SchemaTooNew, StoreUnavailable
from gunwatch.events.store.migrate import current_revision, head_revision
from support.old_store import PREVIOUS_RELEASE, create_previous_release_store

SITE = Path("/etc/gunwatch/site yaml")  # a space: the command said must be quoted


def revision(url: str) -> str | None:
    engine = create_engine(parse_store_url(url))
    try:
        return current_revision(engine)
    finally:
        engine.dispose()


@pytest.fixture
def old_store(store_url: str, tmp_path: Path) -> StoreSettings:
    create_previous_release_store(store_url)
    return StoreSettings(url=store_url, backups=str(tmp_path / "backups"))


def test_an_upgrade_without_a_backup_is_refused_with_the_commands_to_run(old_store: StoreSettings) -> None:
    with pytest.raises(UpgradeRefused) as refused:
        check_upgrade(old_store, SITE)
    message = str(refused.value)
    assert f"schema revision {PREVIOUS_RELEASE} and this gunwatch upgrades it to {head_revision()}" in message
    assert "there is no backup of it there" in message
    assert "`gunwatch backup --config '/etc/gunwatch/site yaml'`" in message
    assert "`gunwatch watch --config '/etc/gunwatch/site yaml' --no-backup`" in message
    assert revision(old_store.url) == PREVIOUS_RELEASE


def test_a_backup_of_the_store_as_it_is_lets_the_upgrade_go_on(old_store: StoreSettings) -> None:
    backup = take_backup(old_store.url, backups_folder(old_store))
    check = check_upgrade(old_store, SITE)
    assert (check.pending, check.revision, check.head, check.backup) == (True, PREVIOUS_RELEASE, head_revision(),
                                                                         backup)
    EventStore(old_store.url).close()
    assert check_upgrade(old_store, SITE).pending is False  # upgraded: nothing more to check


def test_a_backup_older_than_the_last_writes_does_not_count(old_store: StoreSettings) -> None:
    backup = take_backup(old_store.url, backups_folder(old_store))
    engine = create_engine(parse_store_url(old_store.url))
    with engine.begin() as connection:  # the old release's watch went on after the backup
        connection.execute(text("UPDATE cameras SET reason = 'back to 10 fps'"))
    engine.dispose()
    with pytest.raises(UpgradeRefused, match=f"its newest backup there, {backup.folder.name} .* does not hold what "
                                             "the store holds now"):
        check_upgrade(old_store, SITE)


def test_a_backup_written_elsewhere_does_not_count(old_store: StoreSettings, tmp_path: Path) -> None:
    take_backup(old_store.url, tmp_path / "usb-stick")
    with pytest.raises(UpgradeRefused, match="no backup of it there"):
        check_upgrade(old_store, SITE)


def test_a_new_store_and_one_at_the_newest_revision_need_no_backup(store_url: str, tmp_path: Path) -> None:
    settings = StoreSettings(url=store_url, backups=str(tmp_path / "backups"))
    assert check_upgrade(settings, SITE).pending is False  # nothing there yet
    EventStore(store_url).close()
    assert check_upgrade(settings, SITE).pending is False


def test_a_store_newer_than_this_gunwatch_is_never_downgraded(store_url: str, tmp_path: Path) -> None:
    EventStore(store_url).close()
    engine = create_engine(parse_store_url(store_url))
    with engine.begin() as connection:  # as a later gunwatch would have left it
        connection.execute(text("UPDATE alembic_version SET version_num = '0999'"))
    engine.dispose()
    settings = StoreSettings(url=store_url, backups=str(tmp_path / "backups"))
    expected = rf"schema revision 0999, newer than this gunwatch .* knows \(its newest is {head_revision()}\)"
    with pytest.raises(SchemaTooNew, match=expected):
        check_upgrade(settings, SITE)
    with pytest.raises(SchemaTooNew, match=expected):
        EventStore(store_url)  # every command, not only watch
    assert revision(store_url) == "0999"


def test_the_default_backups_folder() -> None:
    def folder(url: str, backups: str | None = None) -> Path:
        return backups_folder(StoreSettings(url=url, backups=backups))

    assert folder("sqlite:///var/lib/gunwatch/events.db") == Path("var/lib/gunwatch/backups")
    assert folder("sqlite:////var/lib/gunwatch/events.db") == Path("/var/lib/gunwatch/backups")
    assert folder("postgresql://gunwatch@db/gunwatch") == Path("backups")
    assert folder("postgresql://db/g", "/srv/backups") == Path("/srv/backups")


def test_a_store_that_cannot_be_reached_is_said_so() -> None:
    settings = StoreSettings(url="postgresql://gunwatch@127.0.0.1:1/gunwatch?connect_timeout=2")
    with pytest.raises(StoreUnavailable, match=r"cannot read the event store postgresql://gunwatch@127\.0\.0\.1:1"):
        check_upgrade(settings, SITE)
