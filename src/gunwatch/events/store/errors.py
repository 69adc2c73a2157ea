"""What the event store raises. Messages name the store by its redacted URL, never with a password."""

from __future__ import annotations


class StoreError(Exception):
    """The store cannot be opened, read or written."""


class StoreMissing(StoreError):
    """A SQLite store file does not exist (yet) and the caller asked not to create it."""
