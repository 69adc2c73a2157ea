"""Which store a command reads: the URL given, else the site file's, else the default SQLite file."""

from __future__ import annotations

from pathlib import Path

from gunwatch.config import load_store_settings
from gunwatch.events.store.engine import DEFAULT_STORE_URL


def resolve_store_url(url: str | None, site_file: Path | None) -> str:
    """ValueError when both are given; ConfigError when the site file is invalid. The site file is read for
    its store only: a channel's password variable left unset does not stop a command that reads the store."""
    if url is not None and site_file is not None:
        raise ValueError("give --store or --config, not both")
    if url is not None:
        return url
    if site_file is not None:
        return load_store_settings(site_file).url
    return DEFAULT_STORE_URL
