"""The disk floor on a real small disk: a 1 MiB tmpfs as the evidence folder, in a private mount namespace
(tests/support/private_tmpfs.py), pruned by `gunwatch prune`.

Three events of 256 KiB of evidence each fill three quarters of it: the oldest resolved ones go until the floor
is met; the unresolved one stays even when the floor cannot be met, and the command says so (exit 1).
"""

from __future__ import annotations

import json
import shutil
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from tests.support.private_tmpfs import run_private, skip_without_private_mounts

from gunwatch.events.model import ThreatEvent
from gunwatch.events.store import EventStore

GUNWATCH = Path(sys.executable).with_name("gunwatch")
# $1 the evidence folder, $2 gunwatch, $3 and $4 two site files. Each event's two files are written on the tmpfs.
FLOOR_PRUNES = ('mount -t tmpfs -o size=1m,mode=0700 tmpfs "$1" || exit 97; mkdir "$1/lobby"; '
                'for id in older newer unanswered; do for f in jpg mp4; do '
                'dd if=/dev/zero of="$1/lobby/$id.$f" bs=4k count=32 2>/dev/null; done; done; '
                '"$2" prune --config "$3" --json; echo "exit $?"; '
                '"$2" prune --config "$4" --json; echo "exit $?"')



def site_file(path: Path, evidence: Path, store_url: str, percent: float) -> Path:
    path.write_text(f"""
cameras: {{lobby: {{url: "rtsp://cam/1"}}}}
evidence: {{folder: "{evidence}"}}
store: {{url: "{store_url}"}}
retention: {{min_free_percent: {percent}}}
""")
    return path


@pytest.mark.parametrize("store_url", ["sqlite"], indirect=True)
def test_below_the_floor_the_oldest_prunable_evidence_goes_and_unresolved_stays(
        store: EventStore, store_url: str, evidence: Path, add_event: Callable[..., ThreatEvent],
        tmp_path: Path) -> None:
    skip_without_private_mounts()
    for event_id, days_ago, said in (("older", 3, "resolved"), ("newer", 2, "false_alarm"), ("unanswered", 1, None)):
        add_event(event_id, days_ago, said=said, kb=1)  # rows and paths; the files are made on the tmpfs
    shutil.rmtree(evidence)
    evidence.mkdir()
    # 768 KiB used of 1 MiB: a 40 % floor needs one event gone, a 90 % floor all three (one cannot go).
    forty = site_file(tmp_path / "forty.yaml", evidence, store_url, 40)
    ninety = site_file(tmp_path / "ninety.yaml", evidence, store_url, 90)

    run = run_private(FLOOR_PRUNES, str(evidence), str(GUNWATCH), str(forty), str(ninety), timeout=300)

    assert run.returncode == 0, run.stderr[-3000:]
    lines = run.stdout.splitlines()
    first, second = json.loads(lines[0]), json.loads(lines[2])
    assert lines[1] == "exit 0" and lines[3] == "exit 1", run.stdout + run.stderr
    assert [p["event_id"] for p in first["pruned"]] == ["older"] and not first["below_floor"]
    assert "below its floor" in first["pruned"][0]["reason"]
    assert [p["event_id"] for p in second["pruned"]] == ["newer"] and second["below_floor"]
    assert "BELOW THE FLOOR" in run.stderr
    assert store.get_event("older").evidence.clip is None  # type: ignore[union-attr]
    assert store.get_event("newer").evidence.clip is None  # type: ignore[union-attr]
    assert store.get_event("unanswered").evidence.clip == str(evidence / "lobby" / "unanswered.mp4")  # type: ignore[union-attr]
