"""What backups, restores and the upgrade check raise; messages name the store (redacted) and the folder."""

from __future__ import annotations

from gunwatch.events.store.errors import StoreError


class BackupError(StoreError):
    """A backup cannot be taken, read or restored."""


class UpgradeRefused(StoreError):
    """`watch` will not upgrade the store's schema: no backup holds what the store holds now."""


def reason(error: BaseException) -> str:
    """The driver's own message, first line: SQLAlchemy's adds the SQL and a help link."""
    original = getattr(error, "orig", None) or error
    lines = str(original).strip().splitlines()
    return lines[0] if lines else type(original).__name__
