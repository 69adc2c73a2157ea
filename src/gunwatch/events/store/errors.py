"""What the event store raises. Messages name the store by its redacted URL, never with a password."""

from __future__ import annotations


class StoreError(Exception):
    """The store cannot be opened, read or written."""


class StoreMissing(StoreError):
    """A SQLite store file does not exist (yet) and the caller asked not to create it."""


class StoreUnavailable(StoreError):
    """The database cannot be reached or used for now (down, restarting, locked, out of disk): the same write
    may succeed later, so a writer keeps it and tries again rather than dropping it."""


class SchemaTooNew(StoreError):
    """The store's schema revision is one this gunwatch does not know: a newer gunwatch upgraded it. It is
    never downgraded."""


class UpgradePending(StoreError):
    """The store's schema is older than this gunwatch's and the caller asked not to upgrade it: only `watch`
    and `serve` upgrade a store, and only once a backup holds it (see gunwatch.events.backup.guard)."""


class UnknownEventId(ValueError):
    """An event id (or short id) that names no event, or more than one; the message lists the candidates."""
