"""`gunwatch watch` on an evidence disk below its floor (a full 64 KiB tmpfs in a private mount namespace, as in
test_faults_evidence.py): its retention thread records `disk_low` and starts the `on: disk_low` protocol, while the
camera's threat is still detected, stored and alerted (without its picture)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
from sqlalchemy import select
from tests.support.private_tmpfs import run_private, skip_without_private_mounts

from gunwatch.events.store import EventStore
from gunwatch.events.store.schema import AuditRow

DEMO = Path(__file__).resolve().parents[2] / "samples" / "demo" / "lobby.mp4"
GUNWATCH = Path(sys.executable).with_name("gunwatch")
FULL_DISK_WATCH = ('mount -t tmpfs -o size=64k,mode=0700 tmpfs "$1" || exit 97; '
                   'dd if=/dev/zero of="$1/fill" bs=4k 2>/dev/null; '
                   'exec "$2" watch --config "$3" --until-done --json --status-every 0')



@pytest.mark.slow
def test_a_disk_below_its_floor_alerts_disk_low_and_the_threat_still_goes_out(tmp_path: Path) -> None:
    skip_without_private_mounts()
    evidence = tmp_path / "evidence"
    evidence.mkdir()
    config = tmp_path / "site.yaml"
    config.write_text(f"""
cameras:
  lobby: {{url: "{DEMO}", detect: {{fps: 5}}}}
confirmation: {{close_after_s: 2}}
evidence: {{folder: "{evidence}", pre_roll_s: 1, post_roll_s: 1}}
store: {{url: "sqlite:///{tmp_path / 'events.db'}"}}
retention: {{min_free_percent: 10, every_s: 5}}
alerts:
  site_name: test
  channels: {{log: {{url: "file://{tmp_path / 'alerts.jsonl'}"}}}}
  recipients: {{desk: {{name: Front desk}}}}
  protocols:
    alarm: {{trigger: {{on: threat}}, cooldown_s: 0, steps: [{{notify: {{to: [desk], via: [log]}}}}]}}
    disk: {{trigger: {{on: disk_low}}, steps: [{{notify: {{to: [desk], via: [log]}}}}]}}
""")
    run = run_private(FULL_DISK_WATCH, str(evidence), str(GUNWATCH), str(config), timeout=600)
    assert run.returncode == 0, run.stderr[-3000:]

    with EventStore(f"sqlite:///{tmp_path / 'events.db'}") as store:
        assert [event.state for event in store.list_events()] == ["closed"]
        with store.read_session() as session:
            health = [(row.action, row.detail["folder"]) for row in session.scalars(
                select(AuditRow).where(AuditRow.action.startswith("health.")))]
    assert health == [("health.disk_low", str(evidence))]  # once, however many passes found it low
    sent = [json.loads(line) for line in (tmp_path / "alerts.jsonl").read_text().splitlines()]
    assert sorted(message["kind"] for message in sent) == ["alert", "disk_low"]
    assert "retention: disk_low:" in run.stderr
