"""The pipeline benchmark's arithmetic, tables and command, on constructed numbers (fast)."""

from __future__ import annotations

import json
import math
from pathlib import Path

import av
import numpy as np
import pytest
from typer.testing import CliRunner

from gunwatch.bench import pipeline
from gunwatch.bench.pipeline import PipelineBench, PipelineBenchSettings
from gunwatch.bench.pipeline_capacity import CapacityRow, Snapshot, row_between
from gunwatch.bench.pipeline_clips import ClipFormat, GunClip, make_gun_clip
from gunwatch.bench.pipeline_latency import (
    ExtraEvent,
    LatencyCollector,
    LatencyResult,
    LatencySample,
    Spread,
    appearance_of,
    appearances_over,
    sample_of,
)
from gunwatch.bench.pipeline_table import format_capacity_table, format_latency_table
from gunwatch.cli import app
from gunwatch.events.model import ThreatEvent
from gunwatch.pipeline.watch import CameraStatus
from gunwatch.video.sources import SourceStats

# 2 s quiet, 2 s gun, 2 s quiet at 15 fps, first frame at pts 0.
CLIP = GunClip(Path("gun.mp4"), start_pts=0.0, onset_pts=2.0, gun_end_pts=4.0, pass_s=6.0, fps=15.0)


@pytest.mark.parametrize(
    ("pts", "appearance"),
    [
        (0.0, None),  # the quiet lead of the first pass
        (1.9333, None),
        (2.0, 0),  # the onset frame
        (3.9333, 0),  # the last gun frame
        (4.0, None),  # the quiet tail
        (7.9333, None),  # the lead of the second pass
        (8.0, 1),
        (14.0, 2),
    ],
)
def test_a_frame_belongs_to_the_gun_appearance_of_its_pass(pts: float, appearance: int | None) -> None:
    assert appearance_of(CLIP, pts) == appearance


def event(first_pts: float | None, first_seen: float, confirmed_at: float) -> ThreatEvent:
    return ThreatEvent("gun01", "open", first_seen, confirmed_at, confirmed_at, 0.9, (0, 0, 1, 1),
                       first_pts=first_pts)


def test_latency_is_measured_from_the_onset_frame_put_on_the_wall_clock_by_the_events_first_hit() -> None:
    # The first hit is 0.2 s after the second pass's onset (pts 8.0) and was received at 100.2: the onset
    # frame was received at 100.0.
    sample = sample_of(event(8.2, first_seen=100.2, confirmed_at=100.6), committed=100.65, clip=CLIP)
    assert sample is not None and sample.appearance == 1 and sample.camera == "gun01"
    assert sample.confirmation_s == pytest.approx(0.6)
    assert sample.processing_s == pytest.approx(0.05)
    assert sample.total_s == pytest.approx(0.65)


def test_an_event_outside_a_gun_scene_is_no_sample() -> None:
    assert sample_of(event(5.0, 100.0, 100.4), 100.5, CLIP) is None  # a false alarm in the quiet tail
    assert sample_of(event(None, 100.0, 100.4), 100.5, CLIP) is None  # a stream without timestamps


def test_appearances_are_counted_once_their_gun_scene_is_over_with_grace() -> None:
    # 150 frames in (pts 0 .. 9.9333), the newest received at 1009.9333: pts 0 was at 1000.0.
    stats = SourceStats("online", "", 150, 100, 0, 0, 1000.0 + 149 / 15)
    assert list(appearances_over(CLIP, stats, until=1004.9)) == []  # pass 0's gun ended at 1004.0, +1 s grace
    assert list(appearances_over(CLIP, stats, until=1005.1)) == [0]
    assert list(appearances_over(CLIP, stats, until=1011.1)) == [0, 1]
    assert list(appearances_over(CLIP, SourceStats(None, "", 0, 0, 0, 0, None), until=2000.0)) == []


def test_spread_of_samples() -> None:
    spread = Spread.of([0.1 * i for i in range(1, 21)])
    assert spread.p50 == pytest.approx(1.05) and spread.p95 == pytest.approx(1.905) and spread.max == pytest.approx(2.0)
    assert math.isnan(Spread.of([]).p95)


def status(camera: str, frames_in: int, dropped: int, sampled: int, analysed: int, still: int) -> CameraStatus:
    return CameraStatus(camera, "online", "", frames_in, dropped, analysed, still, 20.0, 0, sampled=sampled)


def test_a_capacity_row_from_two_snapshots() -> None:
    before = Snapshot(100.0, 100.01, 50.0, (status("a", 30, 20, 11, 5, 5), status("b", 30, 20, 10, 10, 0)), 15, 0.3)
    # Between the first reading's start and the second's end, 10 s: camera a took 50 frames (10 analysed, one
    # more taken and still in the detector), camera b 46 (all analysed); each decoded 150.
    after = Snapshot(109.99, 110.0, 58.0, (status("a", 180, 120, 61, 15, 45), status("b", 180, 124, 56, 56, 0)),
                     71, 1.42)
    row = row_between(before, after, gating=True)
    assert row.cameras == 2 and row.seconds == pytest.approx(10)
    assert row.sampled_fps_min == pytest.approx(4.6) and row.sampled_fps_mean == pytest.approx(4.8)
    assert row.inference_share == pytest.approx(56 / 96)  # of the frames through: analysed or found still
    assert row.decoded_fps == pytest.approx(15) and row.dropped_share == pytest.approx(204 / 300)
    assert row.infer_ms == pytest.approx(20)
    assert row.cpu_percent > 0
    assert not row.keeps_up  # 4.6 < 0.95 * 5: the worst camera decides


def capacity_row(cameras: int, gating: bool, sampled_fps: float) -> CapacityRow:
    return CapacityRow(cameras, gating, 10.0, 5.0, sampled_fps, sampled_fps, 0.2 if gating else 1.0, 15.0, 0.67,
                       30.0, 80.0)


def made_up_bench() -> PipelineBench:
    samples = [LatencySample("gun01", i, 0.4 + 0.01 * i, 0.05) for i in range(5)]
    latency = LatencyResult(samples, 1, 6, 1, [ExtraEvent("gun01", 5.0, None)], 40.0)
    rows = [capacity_row(1, True, 4.9), capacity_row(1, False, 4.9), capacity_row(4, True, 4.8),
            capacity_row(4, False, 3.1)]
    return PipelineBench(PipelineBenchSettings(cameras=(1, 4)), latency, rows, "gunwatch-nano+verifier")


def test_the_tables_and_the_largest_counts_that_keep_up() -> None:
    bench = made_up_bench()
    assert bench.largest_keeping_up(True) == 4 and bench.largest_keeping_up(False) == 1
    latency = format_latency_table(bench)
    assert latency.splitlines()[0].split()[-3:] == ["p50", "p95", "max"]
    assert "5 events from 1 cameras" in latency and "missed: 1 of 6" in latency and "meets the 1 s target" in latency
    assert "detector gunwatch-nano+verifier," in latency
    capacity = format_capacity_table(bench)
    assert "keeps up" in capacity.splitlines()[0]
    assert "largest count that keeps up: 4 cameras with motion gating, 1 camera without" in capacity
    assert "no growing backlog" in capacity


def test_the_json_holds_every_sample_and_row() -> None:
    data = json.loads(json.dumps(made_up_bench().to_json_dict()))
    assert data["largest_keeping_up"] == {"gating_on": 4, "gating_off": 1}
    assert len(data["latency"]["samples"]) == 5 and data["latency"]["samples"][0]["total_s"] == pytest.approx(0.45)
    assert set(data["latency"]["total_s"]) == {"p50", "p95", "max"}
    assert [row["keeps_up"] for row in data["capacity"]] == [True, True, True, False]
    assert data["settings"]["cameras"] == [1, 4] and data["settings"]["tiles"] == "off"


def test_the_command_prints_both_tables_and_json(monkeypatch: pytest.MonkeyPatch) -> None:
    asked: list[PipelineBenchSettings] = []

    def fake_run(settings: PipelineBenchSettings, progress: object) -> PipelineBench:
        asked.append(settings)
        return made_up_bench()

    monkeypatch.setattr(pipeline, "run_pipeline_bench", fake_run)
    args = ["bench", "pipeline", "--cameras", "1,4", "--seconds", "3", "--samples", "5", "--tiles", "off", "--json"]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.stderr
    assert asked[0].cameras == (1, 4) and asked[0].seconds == 3 and asked[0].samples == 5 and asked[0].tiles == "off"
    assert "first gun frame -> event committed" in result.stderr and "largest count" in result.stderr
    assert json.loads(result.stdout)["largest_keeping_up"]["gating_on"] == 4
    # 720p cameras, frame-shaped input as `watch` runs it, unless asked otherwise.
    assert asked[0].clip.size == (1280, 720) and asked[0].max_input == 640
    args = ["bench", "pipeline", "--cameras", "2", "--resolution", "1920x1080", "--max-input", "0"]
    assert CliRunner().invoke(app, args).exit_code == 0
    assert asked[1].clip.size == (1920, 1080) and asked[1].max_input is None


def test_bad_camera_counts_are_refused() -> None:
    result = CliRunner().invoke(app, ["bench", "pipeline", "--cameras", "1,x"])
    assert result.exit_code == 2 and "--cameras" in result.stderr
    for resolution in ("1080p", "1921x1080", "16x16"):
        result = CliRunner().invoke(app, ["bench", "pipeline", "--resolution", resolution])
        assert result.exit_code == 2 and "--resolution must be WIDTHxHEIGHT" in result.stderr, resolution
    with pytest.raises(ValueError):
        PipelineBenchSettings(cameras=(0,))


def test_a_gun_clip_shows_the_gun_from_its_onset_timestamp(tmp_path: Path) -> None:
    clip = make_gun_clip(tmp_path / "gun.mp4", 0.4, 0.4, 0.2, ClipFormat(160, 96, 10))
    assert clip.onset_pts == pytest.approx(clip.start_pts + 0.4) and clip.pass_s == pytest.approx(1.0)
    with av.open(str(clip.path)) as container:
        frames = [(f.time, f.to_ndarray(format="rgb24").astype(np.float32)) for f in container.decode(video=0)]
    assert len(frames) == 10
    quiet = [image for pts, image in frames if pts < clip.onset_pts - 1e-3]
    gun = [image for pts, image in frames if clip.onset_pts - 1e-3 <= pts < clip.gun_end_pts - 1e-3]
    assert len(quiet) == 4 and len(gun) == 4
    # Noise changes a frame by a few grey levels; the cut to the gun scene by far more.
    assert np.abs(quiet[-1] - quiet[-2]).mean() < 10 < np.abs(gun[0] - quiet[-1]).mean()


def test_an_event_published_again_when_its_clip_is_ready_is_one_sample() -> None:
    collect = LatencyCollector({"gun01": CLIP}, wanted=2)
    opened = event(8.2, 100.2, 100.6)
    collect(opened)
    collect(opened)  # the same "open" change again, now with its clip path
    collect(event(8.6, 100.6, 101.0))  # a second event in the same appearance: re-opened
    collect(event(5.0, 97.0, 97.4))  # a false alarm in a quiet scene
    assert list(collect.samples) == [("gun01", 1)] and not collect.enough.is_set()
    assert [(extra.appearance, extra.first_pts) for extra in collect.extra] == [(1, 8.6), (None, 5.0)]
