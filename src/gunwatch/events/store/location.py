"""Which store a command reads: the URL given, else the site file's, else the default SQLite file."""

from __future__ import annotations

from pathlib import Path

from gunwatch.config import load_site_config
from gunwatch.events.store.engine import DEFAULT_STORE_URL


def resolve_store_url(url: str | None, site_file: Path | None) -> str:
    """ValueError when both are given; ConfigError when the site file is invalid."""
    if url is not None and site_file is not None:
        raise ValueError("give --store or --config, not both")
    if url is not None:
        return url
    if site_file is not None:
        return load_site_config(site_file).store.url
    return DEFAULT_STORE_URL
