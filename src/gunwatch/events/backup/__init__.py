"""Backups of the event store, their restore, and the check `watch` makes before it upgrades the schema.

A backup is a folder: the database (`store.sqlite`, an SQLite online backup, or `store.dump`, `pg_dump`'s
custom format), `manifest.json` (written last: a folder without one is no backup) and, with
`--with-evidence`, the evidence files under `evidence/`. The manifest records the schema revision, the
gunwatch version, a digest of every table's rows, and the evidence index: each file an event names, with its
size and SHA-256.

Modules: `manifest` (the manifest, the backups in a folder), `contents` (a store's revision, row counts and
digest), `sqlite_copy` and `pg_tools` (the two databases), `evidence` (the index and the copies), `take`
and `restore` (the commands' work), `guard` (what `watch` checks), `cli` (`gunwatch backup`, `restore`).
"""

from gunwatch.events.backup.errors import BackupError, UpgradeRefused

__all__ = ["BackupError", "UpgradeRefused"]
