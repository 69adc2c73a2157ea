"""What `watch` checks before it opens the store, which upgrades its schema: that a backup holds what the
store holds now. A store at this gunwatch's newest revision, or a new one, needs none; a store newer than
this gunwatch is refused (it is never downgraded).

"Holds what the store holds now" is the same schema revision and the same digest of every row: a backup
taken before the last `watch` run, or before an earlier upgrade, does not count.
"""

from __future__ import annotations

import shlex
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy.exc import InterfaceError, OperationalError, SQLAlchemyError

from gunwatch.config.sections import StoreSettings
from gunwatch.events.backup.contents import read_contents
from gunwatch.events.backup.errors import UpgradeRefused, reason
from gunwatch.events.backup.folder import backups_folder, store_label
from gunwatch.events.backup.manifest import Backup, list_backups
from gunwatch.events.store.engine import make_engine, parse_store_url, sqlite_file
from gunwatch.events.store.errors import StoreError, StoreUnavailable
from gunwatch.events.store.migrate import head_revision, refuse_unknown_revision


@dataclass(frozen=True)
class UpgradeCheck:
    revision: str | None  # the store's, before the upgrade
    head: str | None  # this gunwatch's
    backup: Backup | None  # the backup that holds the store, when an upgrade is pending

    @property
    def pending(self) -> bool:
        return self.revision is not None and self.revision != self.head


def check_upgrade(settings: StoreSettings, config: Path, command: str = "watch") -> UpgradeCheck:
    """UpgradeRefused (saying which commands to run) when the store needs a migration and no backup in the
    backups folder holds what it holds; SchemaTooNew when the store is newer than this gunwatch. `command`:
    the gunwatch command that opens the store next (watch, serve), named in the refusal."""
    url = parse_store_url(settings.url)
    label = store_label(settings.url)
    file = sqlite_file(url)
    head = head_revision()
    if file is not None and not file.exists():
        return UpgradeCheck(None, head, None)  # a new store: nothing to lose
    engine = make_engine(url)
    try:
        with engine.connect() as connection:
            contents = read_contents(connection)
    except (OperationalError, InterfaceError) as error:  # the server down or restarting: as EventStore says it
        raise StoreUnavailable(f"cannot read the event store {label}: {reason(error)}") from error
    except SQLAlchemyError as error:
        raise StoreError(f"cannot read the event store {label}: {reason(error)}") from error
    finally:
        engine.dispose()
    refuse_unknown_revision(contents.revision, label)
    if contents.revision is None or contents.revision == head:
        return UpgradeCheck(contents.revision, head, None)
    folder = backups_folder(settings)
    found = list_backups(folder)
    # Any backup with these very rows will do, whatever store it names (a store moved, a host renamed).
    for backup in reversed(found):
        if (backup.manifest.schema_revision, backup.manifest.contents_sha256) == (contents.revision, contents.digest):
            return UpgradeCheck(contents.revision, head, backup)
    backups = [backup for backup in found if backup.manifest.store == label]
    newest = f"its newest backup there, {backups[-1].folder.name} (taken {_when(backups[-1])}), does not hold " \
             "what the store holds now" if backups else "there is no backup of it there"
    site = shlex.quote(str(config))
    raise UpgradeRefused(
        f"the event store {label} is at schema revision {contents.revision} and this gunwatch upgrades it to "
        f"{head}, but {newest} ({folder}). Back it up first: `gunwatch backup --config {site}`, then start "
        f"{command} again; or upgrade without a backup: `gunwatch {command} --config {site} --no-backup`")


def _when(backup: Backup) -> str:
    return datetime.fromtimestamp(backup.manifest.taken_at, UTC).strftime("%Y-%m-%d %H:%M UTC")
