"""Retention on a constructed store and evidence folder: ages, sizes and holds, oldest first; open, unresolved and
held events spared whatever the settings say; every pruning in the audit log with its reason."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

from sqlalchemy import func, select

from gunwatch.config.retention import GB, RetentionSettings
from gunwatch.events.model import ThreatEvent
from gunwatch.events.retention.holds import LegalHolds
from gunwatch.events.retention.prune import Pruner
from gunwatch.events.store import EventStore
from gunwatch.events.store.schema import AuditRow, DeliveryRow, DispositionRow, EventRow, HealthRow

from .conftest import DAY, KB, NOW

AddEvent = Callable[..., ThreatEvent]


def files_of(store: EventStore, event_id: str) -> list[str | None]:
    event = store.get_event(event_id)
    assert event is not None, f"event {event_id} was deleted"
    return [event.evidence.snapshot, event.evidence.annotated, event.evidence.clip]


def audit_of(store: EventStore, action: str) -> list[AuditRow]:
    with store.read_session() as session:
        return list(session.scalars(select(AuditRow).where(AuditRow.action == action).order_by(AuditRow.id)))


def test_evidence_past_its_age_goes_and_only_from_closed_resolved_unheld_events(
        store: EventStore, evidence: Path, add_event: AddEvent) -> None:
    old = 90
    add_event("resolved", old)
    add_event("falsealarm", old, said="false_alarm")
    add_event("held", old)
    add_event("unanswered", old, said=None)
    add_event("acknowledged", old, said="acknowledged")
    add_event("confirmed", old, said="confirmed")
    add_event("stillopen", old, said=None, state="updated")
    add_event("recent", 3)
    assert LegalHolds(store).hold("held", "cli:ortiz", "case 2026-114", now=NOW)

    report = Pruner(store, RetentionSettings(evidence_days=30, min_free_percent=None), evidence).run(NOW)

    assert [prune.candidate.event_id for prune in report.done] == ["falsealarm", "resolved"]  # both ended then
    for event_id in ("resolved", "falsealarm"):
        assert files_of(store, event_id) == [None, None, None]  # the row keeps its data, the paths are cleared
        assert not (evidence / "lobby" / f"{event_id}.jpg").exists()
        assert not (evidence / "lobby" / f"{event_id}.mp4").exists()
        assert store.get_event(event_id).max_score == 0.9  # type: ignore[union-attr]
    for event_id in ("held", "unanswered", "acknowledged", "confirmed", "stillopen", "recent"):
        assert files_of(store, event_id)[0] == str(evidence / "lobby" / f"{event_id}.jpg")
        assert (evidence / "lobby" / f"{event_id}.jpg").exists() and (evidence / "lobby" / f"{event_id}.mp4").exists()
    entries = audit_of(store, "retention.evidence_pruned")
    assert {entry.event_id for entry in entries} == {"resolved", "falsealarm"}
    assert entries[0].actor == "retention" and entries[0].camera == "lobby"
    assert entries[0].detail["reason"] == "ended more than 30 days ago (retention.evidence_days)"
    assert sorted(entries[0].detail["files"]) == sorted([str(evidence / "lobby" / f"{entries[0].event_id}.jpg"),
                                                         str(evidence / "lobby" / f"{entries[0].event_id}.mp4")])


def test_a_dry_run_shows_the_same_and_changes_nothing(store: EventStore, evidence: Path, add_event: AddEvent) -> None:
    add_event("resolved", 90)
    settings = RetentionSettings(evidence_days=30, min_free_percent=None)
    report = Pruner(store, settings, evidence).run(NOW, dry_run=True)
    assert [prune.candidate.event_id for prune in report.done] == ["resolved"]
    assert report.done[0].space >= 32 * KB
    assert files_of(store, "resolved")[0] is not None and (evidence / "lobby" / "resolved.jpg").exists()
    assert audit_of(store, "retention.evidence_pruned") == []
    assert [p.candidate.event_id for p in Pruner(store, settings, evidence).run(NOW).done] == ["resolved"]


def test_over_the_size_limit_the_oldest_prunable_evidence_goes_until_it_fits(
        store: EventStore, evidence: Path, add_event: AddEvent) -> None:
    for event_id, days_ago in (("d10", 10), ("d40", 40), ("d20", 20), ("d30", 30)):
        add_event(event_id, days_ago, kb=64)  # 128 KiB each: 512 KiB in all
    add_event("held50", 50, kb=64)
    LegalHolds(store).hold("held50", "cli:ortiz", now=NOW)  # oldest, and 128 KiB more, but never pruned
    limit_gb = 330 * KB / GB  # room for two of the five and a bit: three must go, held50 cannot

    report = Pruner(store, RetentionSettings(evidence_max_gb=limit_gb, min_free_percent=None), evidence).run(NOW)

    assert [prune.candidate.event_id for prune in report.done] == ["d40", "d30", "d20"]
    assert files_of(store, "d10")[0] is not None and files_of(store, "held50")[0] is not None
    assert "over evidence_max_gb" in audit_of(store, "retention.evidence_pruned")[0].detail["reason"]


def test_events_past_their_age_go_whole_with_their_history(store: EventStore, evidence: Path,
                                                           add_event: AddEvent) -> None:
    add_event("ancient", 400)
    add_event("ancientheld", 400)
    add_event("ancientopen", 400, said=None)
    add_event("old", 90)
    LegalHolds(store).hold("ancientheld", "cli:ortiz", now=NOW)
    with store.write_session.begin() as session:
        session.add(DeliveryRow(key="k1", event_id="ancient", kind="alert", action="message", lane="log",
                                payload={}, status="delivered", attempts=1, next_attempt_at=NOW, created_at=NOW,
                                updated_at=NOW))

    settings = RetentionSettings(evidence_days=30, events_days=365, min_free_percent=None)
    report = Pruner(store, settings, evidence).run(NOW)

    assert [(p.candidate.event_id, p.what) for p in report.done] == [("ancient", "event"), ("old", "evidence")]
    assert store.get_event("ancient") is None and not (evidence / "lobby" / "ancient.mp4").exists()
    with store.read_session() as session:
        for table in (DispositionRow, DeliveryRow, AuditRow):
            assert session.scalar(select(func.count()).select_from(table).where(table.event_id == "ancient")) == 0
    deleted = audit_of(store, "retention.event_deleted")
    assert [(e.event_id, e.detail["event"]) for e in deleted] == [(None, "ancient")]
    assert deleted[0].detail["reason"] == "ended more than 365 days ago (retention.events_days)"
    assert files_of(store, "ancientheld")[0] is not None and files_of(store, "ancientopen")[0] is not None


def test_a_camera_keeps_its_own_ages(store: EventStore, evidence: Path, add_event: AddEvent) -> None:
    add_event("lobby10", 10)
    add_event("gate10", 10, camera="gate")
    settings = RetentionSettings.model_validate(
        {"evidence_days": 30, "min_free_percent": None, "cameras": {"gate": {"evidence_days": 7}}})
    report = Pruner(store, settings, evidence).run(NOW)
    assert [p.candidate.event_id for p in report.done] == ["gate10"]
    assert report.done[0].reason == "ended more than 7 days ago (retention.cameras.gate.evidence_days)"


def test_a_hold_lifted_lets_retention_prune_again(store: EventStore, evidence: Path, add_event: AddEvent) -> None:
    add_event("case", 90)
    holds = LegalHolds(store)
    assert holds.hold("case", "cli:ortiz", "subpoena", now=NOW) and not holds.hold("case", "cli:lee", now=NOW)
    assert [(h.event_id, h.actor, h.reason) for h in holds.held()] == [("case", "cli:ortiz", "subpoena")]
    settings = RetentionSettings(evidence_days=30, min_free_percent=None)
    assert Pruner(store, settings, evidence).run(NOW).done == []
    assert holds.unhold("case", "cli:lee", "case closed", now=NOW) and not holds.unhold("case", "cli:lee")
    assert [p.candidate.event_id for p in Pruner(store, settings, evidence).run(NOW).done] == ["case"]
    assert [(e.action, e.actor) for e in audit_of(store, "retention.hold") + audit_of(store, "retention.unhold")] \
        == [("retention.hold", "cli:ortiz"), ("retention.unhold", "cli:lee")]


def test_health_history_past_its_age_goes_and_each_camera_keeps_its_state(store: EventStore, evidence: Path) -> None:
    for camera in ("lobby", "gate"):
        store.record_health(camera, "online", "connected", NOW - 100 * DAY)
        store.record_health(camera, "offline", "refused", NOW - 20 * DAY)
        store.record_health(camera, "online", "connected", NOW - 1 * DAY)
    settings = RetentionSettings.model_validate(
        {"health_days": 30, "min_free_percent": None, "cameras": {"gate": {"health_days": 10}}})
    assert Pruner(store, settings, evidence).run(NOW, dry_run=True).health_rows == 3
    assert Pruner(store, settings, evidence).run(NOW).health_rows == 3
    with store.read_session() as session:
        left = sorted(session.execute(select(HealthRow.camera, HealthRow.state)).all())
    assert left == [("gate", "online"), ("lobby", "offline"), ("lobby", "online")]
    assert {status.name: status.state for status in store.camera_status()} == {"gate": "online", "lobby": "online"}


def test_a_file_already_gone_is_cleared_and_the_row_stays(store: EventStore, evidence: Path,
                                                          add_event: AddEvent) -> None:
    add_event("gone", 90)
    (evidence / "lobby" / "gone.mp4").unlink()
    report = Pruner(store, RetentionSettings(evidence_days=30, min_free_percent=None), evidence).run(NOW)
    assert [p.candidate.event_id for p in report.done] == ["gone"] and report.spared == []
    assert files_of(store, "gone") == [None, None, None]
    with store.read_session() as session:
        assert session.get(EventRow, "gone") is not None


def test_a_hold_put_after_the_plan_was_made_still_wins(store: EventStore, evidence: Path,
                                                        add_event: AddEvent) -> None:
    add_event("case", 90)
    add_event("other", 80)
    pruner = Pruner(store, RetentionSettings(evidence_days=30, min_free_percent=None), evidence)
    plan = pruner.plan(NOW)
    assert [prune.candidate.event_id for prune in plan.prunes] == ["case", "other"]
    LegalHolds(store).hold("case", "cli:ortiz", "subpoena", now=NOW)
    report = pruner.carry_out(plan, NOW)
    assert [(prune.candidate.event_id, why) for prune, why in report.spared] == [
        ("case", "put under a legal hold meanwhile")]
    assert [prune.candidate.event_id for prune in report.done] == ["other"]
    assert (evidence / "lobby" / "case.mp4").exists() and files_of(store, "case")[2] is not None


def test_half_written_files_of_a_crashed_writer_go_once_old_and_a_clip_being_written_stays(
        store: EventStore, evidence: Path, add_event: AddEvent) -> None:
    add_event("kept", days_ago=1, said=None)  # an unresolved event: its finished files are never strays
    folder = evidence / "lobby"
    crashed_clip, crashed_snapshot, writing = folder / "a.part.mp4", folder / "b.jpg.part", folder / "c.part.mp4"
    for path, age_s in ((crashed_clip, 2 * 3600), (crashed_snapshot, 3 * 3600), (writing, 5)):
        path.write_bytes(b"\0" * KB)
        os.utime(path, (NOW - age_s, NOW - age_s))
    settings = RetentionSettings(min_free_percent=None)

    dry = Pruner(store, settings, evidence).run(NOW, dry_run=True)
    assert [s.path.name for s in dry.strays] == ["b.jpg.part", "a.part.mp4"]  # oldest first
    assert crashed_clip.exists() and crashed_snapshot.exists()

    report = Pruner(store, settings, evidence).run(NOW)
    assert [s.path.name for s in report.strays] == ["b.jpg.part", "a.part.mp4"]
    assert sorted(p.name for p in folder.iterdir()) == ["c.part.mp4", "kept.jpg", "kept.mp4"]
    with store.read_session() as session:
        logged = session.scalars(select(AuditRow).where(AuditRow.action == "retention.partials_deleted")).all()
    assert [row.detail["bytes"] for row in logged] == [2 * KB]
