"""`gunwatch watch` on a store of the previous release: refused until a backup holds it (saying the exact
command), then upgraded; `--no-backup` upgrades at once."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from sqlalchemy import create_engine

from gunwatch.events.store.engine import parse_store_url
from gunwatch.events.store.migrate import current_revision, head_revision
from support.old_store import PREVIOUS_RELEASE, create_previous_release_store

DEMO = Path(__file__).resolve().parents[2] / "samples" / "demo" / "lobby.mp4"


def gunwatch(*args: str | Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "gunwatch.cli", *map(str, args)], capture_output=True, text=True,
                          timeout=180)


def old_site(folder: Path) -> tuple[Path, str]:
    folder.mkdir()
    url = f"sqlite:///{folder / 'events.db'}"
    create_previous_release_store(url)
    site = folder / "site.yaml"
    site.write_text(f"cameras:\n  lobby: {{url: \"{DEMO}\"}}\nevidence: {{folder: \"{folder / 'evidence'}\"}}\n"
                    f"store: {{url: \"{url}\"}}\n")
    return site, url


def revision(url: str) -> str | None:
    engine = create_engine(parse_store_url(url))
    try:
        return current_revision(engine)
    finally:
        engine.dispose()


def test_watch_upgrades_a_store_only_once_a_backup_holds_it(tmp_path: Path) -> None:
    site, url = old_site(tmp_path / "site")
    watch = ("watch", "--config", site, "--duration", "0", "--status-every", "0")

    refused = gunwatch(*watch)
    assert refused.returncode == 2
    assert f"`gunwatch backup --config {site}`" in refused.stderr
    assert f"`gunwatch watch --config {site} --no-backup`" in refused.stderr
    assert revision(url) == PREVIOUS_RELEASE

    assert gunwatch("backup", "--config", site).returncode == 0
    assert (tmp_path / "site" / "backups").is_dir()  # beside the SQLite file
    upgraded = gunwatch(*watch)
    assert upgraded.returncode == 0, upgraded.stderr[-2000:]
    assert revision(url) == head_revision()


def test_watch_no_backup_upgrades_at_once(tmp_path: Path) -> None:
    site, url = old_site(tmp_path / "site")
    upgraded = gunwatch("watch", "--config", site, "--duration", "0", "--status-every", "0", "--no-backup")
    assert upgraded.returncode == 0, upgraded.stderr[-2000:]
    assert revision(url) == head_revision()
    assert not (tmp_path / "site" / "backups").exists()
