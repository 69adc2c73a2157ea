"""A site's false alarms exported as gun-free training frames: from a real store, with snapshots written as the
pipeline writes them, read back by the data set reader and the training's split, and through the CLI."""

from __future__ import annotations

import dataclasses
import json
import stat
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from gunwatch.alerts.event_actions import EventActions
from gunwatch.cli import app
from gunwatch.data.layouts import read_dataset
from gunwatch.data.split import load_split
from gunwatch.events.evidence import write_snapshots
from gunwatch.events.false_alarm_frames import export_false_alarms
from gunwatch.events.model import Evidence, ThreatEvent
from gunwatch.events.store import EventStore
from gunwatch.inference.detections import Detections
from gunwatch.video.frame import Frame

CLASSES = ("person", "handgun")
DAY = 86_400.0
Events = Callable[..., ThreatEvent]


@pytest.fixture
def recorded(store: EventStore, make_event: Events, tmp_path: Path) -> Callable[..., ThreatEvent]:
    """`recorded(**fields)`: an event stored with its best frame written as the pipeline writes it (a frame of
    one colour per event, so a copy can be told from another)."""
    evidence = tmp_path / "evidence"

    def record(**fields: object) -> ThreatEvent:
        event = make_event(**fields)
        shade = 40 + 20 * len(store.list_events(limit=1000))
        frame = Frame(event.camera, np.full((72, 128, 3), shade, np.uint8), 0, 0.0, event.confirmed_at)
        shown = Detections([event.best_box], [event.max_score], [1])
        clean, annotated = write_snapshots(event, frame, shown, evidence, class_names=CLASSES)
        event = dataclasses.replace(event, evidence=Evidence(snapshot=str(clean), annotated=str(annotated)))
        store.save_event(event)
        return event

    return record


def false_alarm(store: EventStore, event: ThreatEvent, note: str | None = None) -> None:
    EventActions(store).false_alarm(event.id, "guard:alice", note=note)


@pytest.mark.parametrize("store_url", ["sqlite", "postgresql"], indirect=True)
def test_false_alarms_become_gun_free_training_frames_and_nothing_else_does(
    store: EventStore, recorded: Callable[..., ThreatEvent], t0: float, tmp_path: Path,
) -> None:
    table = recorded(camera="lobby", max_score=0.91)
    recorded(camera="lobby", confirmed_at=t0 + 60)  # nobody answered: not exported
    real = recorded(camera="gate", confirmed_at=t0 + 120)
    EventActions(store).confirm(real.id, "guard:bob")  # a real gun: never a gun-free frame
    lamp = recorded(camera="hall 2", confirmed_at=t0 + 180, best_box=(1.0, 2.0, 30.0, 40.0))
    false_alarm(store, table, note="the table's metal base")
    false_alarm(store, lamp)

    out = tmp_path / "site-frames"
    summary = export_false_alarms(store, out)
    assert dict(summary.written) == {"lobby": 1, "hall 2": 1} and summary.missing == [] and summary.total == 2

    dataset = read_dataset(out)
    assert dataset.layout == "yolo" and dataset.problems == []
    records = load_split(out / "split.json").select(dataset, "train")
    assert len(records) == 2 and all(not record.has_gun for record in records)
    by_camera = {record.key.split("/")[0]: record for record in records}
    assert set(by_camera) == {"lobby", "hall_2"}
    # The clean frame, byte for byte: never the annotated one, whose drawn box would teach a cue.
    assert by_camera["lobby"].image_path.read_bytes() == Path(table.evidence.snapshot).read_bytes()

    lines = (out / "manifest.jsonl").read_text().splitlines()
    manifest = {entry["event_id"]: entry for entry in map(json.loads, lines)}
    assert set(manifest) == {table.id, lamp.id}
    assert manifest[table.id]["note"] == "the table's metal base" and manifest[table.id]["max_score"] == 0.91
    assert manifest[lamp.id]["fired_box"] == [1.0, 2.0, 30.0, 40.0]
    assert manifest[lamp.id]["false_alarm_by"] == "guard:alice"
    # Pictures of people: as private as the evidence they were copied from.
    assert stat.S_IMODE(by_camera["lobby"].image_path.stat().st_mode) == 0o600
    assert stat.S_IMODE(by_camera["lobby"].image_path.parent.stat().st_mode) == 0o700


@pytest.mark.parametrize("store_url", ["sqlite"], indirect=True)
def test_exporting_again_adds_the_new_ones_keeps_a_hand_deleted_frame_out_and_names_what_is_gone(
    store: EventStore, recorded: Callable[..., ThreatEvent], t0: float, tmp_path: Path,
) -> None:
    out = tmp_path / "site-frames"
    first, second = recorded(camera="lobby"), recorded(camera="lobby", confirmed_at=t0 + 60)
    false_alarm(store, first)
    false_alarm(store, second)
    assert export_false_alarms(store, out).total == 2

    removed = next((out / "images" / "lobby").glob("*.jpg"))  # a person judged this frame unfit
    removed.unlink()
    pruned = recorded(camera="gate", confirmed_at=t0 + 120)
    Path(pruned.evidence.snapshot).unlink()  # retention took it
    kept = recorded(camera="gate", confirmed_at=t0 + 180)
    false_alarm(store, pruned)
    false_alarm(store, kept)

    summary = export_false_alarms(store, out)
    assert dict(summary.written) == {"gate": 1} and summary.already_there == 2 and summary.total == 2
    [(event_id, camera, why)] = summary.missing
    assert (event_id, camera) == (pruned.id, "gate") and pruned.evidence.snapshot in why and "gone" in why
    dataset = read_dataset(out)
    assert dataset.problems == []  # the deleted frame's label went with it
    assert sorted(r.key for r in load_split(out / "split.json").select(dataset, "train")) == sorted(
        r.key for r in dataset.records)
    assert removed.relative_to(out / "images").as_posix() not in {r.key for r in dataset.records}


@pytest.mark.parametrize("store_url", ["sqlite"], indirect=True)
def test_the_command_filters_by_day_and_camera_and_names_a_bad_day(
    store_url: str, store: EventStore, recorded: Callable[..., ThreatEvent], t0: float, tmp_path: Path,
) -> None:
    early = recorded(camera="lobby")
    late_lobby = recorded(camera="lobby", confirmed_at=t0 + 3 * DAY)
    late_gate = recorded(camera="gate", confirmed_at=t0 + 3 * DAY + 60)
    for event in (early, late_lobby, late_gate):
        false_alarm(store, event)
    out = tmp_path / "site-frames"
    day = _day(t0 + 2 * DAY)

    result = CliRunner().invoke(app, ["data", "false-alarms", "--store", store_url, "--out", str(out),
                                      "--since", day, "--camera", "lobby"])
    assert result.exit_code == 0, result.output
    assert "1 false-alarm frames written (lobby 1), 0 already there; 1 in" in result.stderr
    [entry] = map(json.loads, (out / "manifest.jsonl").read_text().splitlines())
    assert entry["event_id"] == late_lobby.id

    result = CliRunner().invoke(app, ["data", "false-alarms", "--store", store_url, "--out", str(out),
                                      "--since", "03/12/2026"])
    assert result.exit_code == 2 and "--since: expected a day as YYYY-MM-DD, got '03/12/2026'" in result.stderr


def _day(at: float) -> str:
    from datetime import UTC, datetime

    return datetime.fromtimestamp(at, UTC).strftime("%Y-%m-%d")
