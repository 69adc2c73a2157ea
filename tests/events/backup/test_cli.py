"""`gunwatch backup` and `gunwatch restore` from the command line, as an operator runs them."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

DEMO = Path(__file__).resolve().parents[3] / "samples" / "demo" / "lobby.mp4"


def gunwatch(*args: str | Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "gunwatch.cli", *map(str, args)], capture_output=True, text=True,
                          timeout=120)


def site_file(path: Path, store_url: str, backups: Path | None = None) -> Path:
    store = f"{{url: \"{store_url}\"" + (f", backups: \"{backups}\"}}" if backups else "}")
    path.write_text(f"cameras:\n  lobby: {{url: \"{DEMO}\"}}\nstore: {store}\n"
                    "alerts:\n  channels:\n    ops: {type: webhook, url: \"${UNSET_WEBHOOK_URL}\"}\n")
    return path


def test_backup_then_restore_into_another_store(populated: str, empty_url: str, tmp_path: Path) -> None:
    site = site_file(tmp_path / "site.yaml", populated, tmp_path / "backups")

    taken = gunwatch("backup", "--config", site, "--with-evidence", "--json")

    assert taken.returncode == 0, taken.stderr
    result = json.loads(taken.stdout)
    folder = Path(result["folder"])
    assert folder.parent == tmp_path / "backups"
    assert "2 events) to" in taken.stderr and "3 evidence files indexed, 2 copied, 1 already gone" in taken.stderr
    assert len(list((folder / "evidence").iterdir())) == 2

    refused = gunwatch("restore", folder, "--config", site)
    assert refused.returncode == 2
    assert "add --replace" in refused.stderr

    other = site_file(tmp_path / "other.yaml", empty_url)
    restored = gunwatch("restore", folder, "--config", other)
    assert restored.returncode == 0, restored.stderr
    assert f"restored {folder}" in restored.stderr
    assert "evidence: 0 files put back, 2 there already" in restored.stderr


@pytest.mark.parametrize("store_url", ["sqlite"], indirect=True)
def test_backup_out_writes_elsewhere_and_a_bad_site_file_is_named(populated: str, tmp_path: Path) -> None:
    site = site_file(tmp_path / "site.yaml", populated)
    taken = gunwatch("backup", "--config", site, "--out", tmp_path / "usb")
    assert taken.returncode == 0, taken.stderr
    assert Path(taken.stdout.strip()).parent == tmp_path / "usb"

    (tmp_path / "bad.yaml").write_text("cameras:\n  lobby: {url: a.mp4}\nstore: {url: \"mysql://db\", backups: \"\"}\n")
    bad = gunwatch("backup", "--config", tmp_path / "bad.yaml")
    assert bad.returncode == 2
    assert "store.url" in bad.stderr and "store.backups" in bad.stderr


@pytest.mark.parametrize("store_url", ["sqlite"], indirect=True)
def test_keep_deletes_the_oldest_backups_of_this_store_only(populated: str, tmp_path: Path) -> None:
    site = site_file(tmp_path / "site.yaml", populated, tmp_path / "backups")
    foreign = tmp_path / "backups" / "another-store"
    foreign.mkdir(parents=True)  # a backup of another store in the same folder: never counted, never deleted
    taken = [Path(gunwatch("backup", "--config", site).stdout.strip()) for _ in range(3)]
    manifest = json.loads((taken[0] / "manifest.json").read_text())
    (foreign / "manifest.json").write_text(json.dumps({**manifest, "store": "/elsewhere/events.db",
                                                       "taken_at": manifest["taken_at"] - 3600}))

    kept = gunwatch("backup", "--config", site, "--keep", "2")

    assert kept.returncode == 0, kept.stderr
    newest = Path(kept.stdout.strip())
    assert sorted(p for p in (tmp_path / "backups").iterdir()) == sorted([foreign, taken[2], newest])
    assert f"deleted the older backup {taken[0]} (--keep 2)" in kept.stderr
    assert gunwatch("backup", "--config", site, "--keep", "0").returncode == 2  # the one just taken always stays
