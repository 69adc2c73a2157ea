"""`gunwatch event hold / unhold` and `gunwatch prune [--dry-run]` from the command line."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest
from typer.testing import CliRunner

from gunwatch.cli import app
from gunwatch.events.model import ThreatEvent
from gunwatch.events.retention.holds import LegalHolds
from gunwatch.events.store import EventStore


def run(*args: str | Path):
    return CliRunner().invoke(app, [str(arg) for arg in args])


@pytest.mark.parametrize("store_url", ["sqlite"], indirect=True)
def test_hold_by_short_id_then_unhold(store: EventStore, store_url: str, add_event: Callable[..., ThreatEvent]) -> None:
    add_event("c0ffee1234", 90)
    held = run("event", "hold", "c0ffee", "--store", store_url, "--by", "Officer Ortiz", "--reason", "case 114")
    assert held.exit_code == 0 and "event c0ffee1234: under a legal hold" in held.output
    assert [(h.event_id, h.actor, h.reason) for h in LegalHolds(store).held()] == [
        ("c0ffee1234", "Officer Ortiz", "case 114")]
    listed = run("event", "list", "--store", store_url, "--json")
    assert "(legal hold)" in listed.output
    assert [e["legal_hold"] for e in json.loads(listed.output.splitlines()[-1])] == [True]
    assert run("event", "unhold", "c0ffee1234", "--store", store_url).exit_code == 0
    assert "(legal hold)" not in run("event", "list", "--store", store_url).output
    again = run("event", "unhold", "c0ffee1234", "--store", store_url)
    assert again.exit_code == 2 and "is not under a legal hold" in again.output
    assert run("event", "hold", "nosuchevent", "--store", store_url).exit_code == 2


@pytest.mark.parametrize("store_url", ["sqlite"], indirect=True)
def test_prune_dry_run_lists_what_would_go(store: EventStore, store_url: str, evidence: Path,
                                           add_event: Callable[..., ThreatEvent], tmp_path: Path) -> None:
    add_event("oldresolved", 4000)  # ended in 2015: past any age given in days
    add_event("oldunanswered", 4000, said=None)
    site = tmp_path / "site.yaml"
    site.write_text(f'cameras: {{lobby: {{url: "rtsp://cam/1"}}}}\nevidence: {{folder: "{evidence}"}}\n'
                    f'store: {{url: "{store_url}"}}\nretention: {{evidence_days: 30, min_free_percent: 0.001}}\n')
    result = run("prune", "--config", site, "--dry-run", "--json")
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["dry_run"] and [p["event_id"] for p in report["pruned"]] == ["oldresolved"]
    assert "oldresol  lobby  would be evidence pruned (2 files" in result.stderr
    assert store.get_event("oldresolved").evidence.clip is not None  # type: ignore[union-attr]
    assert run("prune", "--config", site).exit_code == 0
    assert store.get_event("oldresolved").evidence.clip is None  # type: ignore[union-attr]


def test_prune_without_a_store_yet_creates_none(tmp_path: Path) -> None:
    site = tmp_path / "site.yaml"
    site.write_text(f'cameras: {{lobby: {{url: "rtsp://cam/1"}}}}\nstore: {{url: "sqlite:///{tmp_path / "no.db"}"}}\n'
                    f'evidence: {{folder: "{tmp_path / "evidence"}"}}\n')
    result = run("prune", "--config", site)
    assert result.exit_code == 0 and "nothing to prune" in result.output
    assert not (tmp_path / "no.db").exists()
