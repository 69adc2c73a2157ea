"""`gunwatch serve` on a store of the previous release upgrades it only as `watch` does: once a backup holds
it, or with --no-backup (a console host upgraded first must not migrate a shared store unseen)."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
from sqlalchemy import create_engine

from gunwatch.events.backup import UpgradeRefused
from gunwatch.events.store.engine import parse_store_url
from gunwatch.events.store.migrate import current_revision, head_revision
from gunwatch.web.serve_command import serve
from support.old_store import PREVIOUS_RELEASE, create_previous_release_store
from support.smtp_server import free_port


def revision(url: str) -> str | None:
    engine = create_engine(parse_store_url(url))
    try:
        return current_revision(engine)
    finally:
        engine.dispose()


def test_serve_refuses_to_upgrade_without_a_backup_and_goes_on_with_no_backup(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'events.db'}"
    create_previous_release_store(url)
    config = tmp_path / "site.yaml"
    config.write_text(f'cameras:\n  lobby: {{url: "{tmp_path / "lobby.mp4"}"}}\nstore: {{url: "{url}"}}\n'
                      f"console: {{listen: '127.0.0.1:{free_port()}'}}\n")

    with pytest.raises(UpgradeRefused, match=rf"`gunwatch serve --config {config} --no-backup`"):
        serve(config)
    assert revision(url) == PREVIOUS_RELEASE

    ready, stop = threading.Event(), threading.Event()
    server = threading.Thread(target=serve, args=(config, ready, stop), kwargs={"no_backup": True}, daemon=True)
    server.start()
    try:
        assert ready.wait(60), "gunwatch serve did not start"
        assert revision(url) == head_revision()
    finally:
        stop.set()
        server.join(30)
