"""Fault: the evidence disk is full (issue 12 item 5).

A real full disk: `gunwatch watch` runs in a private mount namespace (`unshare --user --map-root-user --mount`,
no privilege needed where user namespaces are allowed) whose evidence folder is a 64 KiB tmpfs filled to the
last block before it starts, so every snapshot and clip write fails with ENOSPC as on a full disk. A loop device
needs root, and /dev/full or RLIMIT_FSIZE would fail every write of the process (the store's too) or give
another error (EFBIG). The mount ends with the process: nothing is left mounted whatever happens.

The camera plays the demo clip (a gun from 3 s to 7 s) through the shipped model; the store and the alert file
are outside the full disk. The event must be stored and alerted without a picture, and analysis must go on (the
event closes, which takes frames after the gun left).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
from tests.support.private_tmpfs import run_private, skip_without_private_mounts

from gunwatch.events.store import EventStore

DEMO = Path(__file__).resolve().parents[2] / "samples" / "demo" / "lobby.mp4"
GUNWATCH = Path(sys.executable).with_name("gunwatch")
# $1 the evidence folder, $2 gunwatch, $3 the site file. dd fills the tmpfs and fails once it is full.
FULL_DISK_WATCH = ('mount -t tmpfs -o size=64k,mode=0700 tmpfs "$1" || exit 97; '
                   'dd if=/dev/zero of="$1/fill" bs=4k 2>/dev/null; df -k "$1" >&2; '
                   'exec "$2" watch --config "$3" --until-done --json --status-every 0')



@pytest.mark.slow
def test_a_full_evidence_disk_loses_no_event_or_alert_and_analysis_goes_on(tmp_path: Path) -> None:
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
alerts:
  site_name: test
  channels: {{log: {{url: "file://{tmp_path / 'alerts.jsonl'}"}}}}
  recipients: {{desk: {{name: Front desk}}}}
  protocols:
    alarm: {{trigger: {{on: threat}}, cooldown_s: 0, steps: [{{notify: {{to: [desk], via: [log]}}}}]}}
""")
    # No deadline of ours: the clip ends by itself (--until-done); the timeout only ends a hung run.
    run = run_private(FULL_DISK_WATCH, str(evidence), str(GUNWATCH), str(config), timeout=600)
    assert run.returncode == 0, run.stderr[-3000:]
    assert "100%" in run.stderr  # df: the evidence disk was full before watch started

    printed = [json.loads(line) for line in run.stdout.splitlines() if line.startswith("{")]
    assert printed and {event["camera"] for event in printed} == {"lobby"}
    with EventStore(f"sqlite:///{tmp_path / 'events.db'}") as store:
        stored = store.list_events()
    assert [event.state for event in stored] == ["closed"]  # opened, and closed: frames went on being analysed
    assert stored[0].evidence.snapshot is None and stored[0].evidence.clip is None
    assert list(evidence.iterdir()) == []  # every file went to the full disk, none beside it

    sent = [json.loads(line) for line in (tmp_path / "alerts.jsonl").read_text().splitlines()]
    alerts = [message for message in sent if message["kind"] == "alert"]
    assert [message["event_id"] for message in alerts] == [stored[0].id]
    assert alerts[0]["snapshot"] is None
    # The log names the camera, the event and the disk's error.
    assert f"camera lobby: snapshot of event {stored[0].id} not written" in run.stderr
    assert "No space left on device" in run.stderr
