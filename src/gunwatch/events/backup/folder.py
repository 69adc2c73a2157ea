"""Where backups go: the site file's `store.backups`, else backups/ beside an SQLite file, else ./backups."""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

from gunwatch.config.redact import redact_url
from gunwatch.config.sections import StoreSettings
from gunwatch.events.private import make_private_dirs
from gunwatch.events.store.engine import parse_store_url, sqlite_file

DEFAULT_FOLDER = "backups"


def backups_folder(settings: StoreSettings) -> Path:
    if settings.backups is not None:
        return Path(settings.backups)
    file = sqlite_file(parse_store_url(settings.url))
    return file.parent / DEFAULT_FOLDER if file is not None else Path(DEFAULT_FOLDER)


def store_label(url: str) -> str:
    """The store as a manifest names it: an SQLite file by its absolute path, a server's URL without password."""
    file = sqlite_file(parse_store_url(url))
    return f"sqlite:///{file.resolve()}" if file is not None else redact_url(url)


def staging_folder(parent: Path) -> Path:
    """A new private folder in `parent` for a backup being taken: hidden, and without a manifest until done."""
    make_private_dirs(parent)
    return Path(tempfile.mkdtemp(prefix=".taking-", dir=parent))


def backup_name(parent: Path, revision: str, taken_at: float) -> Path:
    """A name in `parent`, not taken yet, from the time (UTC) and the schema revision."""
    base = f"{time.strftime('%Y%m%dT%H%M%SZ', time.gmtime(taken_at))}-schema-{revision}"
    for attempt in range(1000):
        folder = parent / (base if attempt == 0 else f"{base}-{attempt}")
        if not folder.exists():
            return folder
    raise FileExistsError(f"{parent / base}: 1000 backups of that second exist already")
