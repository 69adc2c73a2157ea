"""`gunwatch bench alarms`: the rule that picks a setting, and one real run on the demo clip (shipped model)."""

from __future__ import annotations

import dataclasses
import json
import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from gunwatch.bench.alarm_clips import BenchClip
from gunwatch.bench.alarm_matching import Alarm, Episode, match_clip
from gunwatch.bench.alarm_replay import ConfirmSetting, QuickLane
from gunwatch.bench.alarms import (
    AlarmBenchSettings,
    ClipResult,
    SettingRun,
    parse_gun_hold,
    parse_quicks,
    recommend,
)
from gunwatch.cli import app
from gunwatch.inference.loading import SHIPPED_VERIFIER
from gunwatch.inference.verifier import OnnxGunVerifier
from support.videos import write_video

DEMO = Path(__file__).resolve().parents[2] / "samples" / "demo" / "lobby.mp4"  # a handgun from 3 s to 7 s
GUN_CLIP = BenchClip("range", Path("range.mp4"), (Episode(10.0, 20.0), Episode(40.0, 50.0)))
GUN_FREE = BenchClip("negatives/lobby", Path("lobby.mp4"), ())


def at(t: float) -> Alarm:
    return Alarm(t - 0.4, t, t + 1.0, t + 11.0, t, (0.0, 0.0, 10.0, 10.0), 0.8)


def run(threshold: float, window: tuple[int, int], latencies: list[float], false_alarms: int) -> SettingRun:
    """A setting whose gun clip alarms its episodes after `latencies` (fewer: the rest missed), and whose
    gun-free hour holds `false_alarms`."""
    starts = [episode.start for episode in GUN_CLIP.episodes]
    alarms = [at(start + latency) for start, latency in zip(starts, latencies, strict=False)]
    negatives = [at(60.0 * (k + 1)) for k in range(false_alarms)]
    results = [
        ClipResult(GUN_CLIP, 60.0, [], alarms, match_clip(GUN_CLIP.episodes, alarms)),
        ClipResult(GUN_FREE, 3600.0, [], negatives, match_clip((), negatives)),
    ]
    return SettingRun(ConfirmSetting(threshold, *window), results)


@pytest.mark.parametrize(
    ("runs", "chosen"),
    [
        # Most episodes alarmed wins only among settings within the false-alarm budget.
        ([run(0.5, (3, 5), [0.4, 0.4], 1), run(0.7, (3, 5), [0.6], 0)], 1),
        # Then the lowest median latency.
        ([run(0.7, (3, 5), [0.8, 0.8], 0), run(0.6, (2, 4), [0.2, 0.6], 0)], 1),
        # All else equal: the live window (3 of 5), then the higher threshold.
        ([run(0.6, (2, 4), [0.4, 0.4], 0), run(0.6, (3, 5), [0.4, 0.4], 0)], 1),
        ([run(0.6, (3, 5), [0.4, 0.4], 0), run(0.65, (3, 5), [0.4, 0.4], 0)], 1),
        # Then the stricter window: 2 of 3 fires only where 2 of 5 would too.
        ([run(0.6, (2, 5), [0.4, 0.4], 0), run(0.6, (2, 3), [0.4, 0.4], 0), run(0.6, (2, 4), [0.4, 0.4], 0)], 1),
        # Nothing within the budget: no recommendation.
        ([run(0.5, (3, 5), [0.4, 0.4], 1)], None),
    ],
)
def test_the_rule_takes_false_alarms_first_then_episodes_then_latency(runs, chosen):
    best = recommend(runs, max_per_hour=0.1)
    assert (runs.index(best) if best is not None else None) == chosen


def test_the_rule_prefers_the_live_quick_lane_then_none_on_a_tie():
    live, wider, off = QuickLane(0.05, 2, 3), QuickLane(0.1, 2, 3), None
    tied = [dataclasses.replace(run(0.6, (3, 5), [0.4, 0.4], 0), setting=ConfirmSetting(0.6, 3, 5, quick))
            for quick in (wider, off, live)]
    assert recommend(tied, max_per_hour=0.1).setting.quick == live
    assert recommend(tied[:2], max_per_hour=0.1).setting.quick is off  # no quick lane: the strictest


@pytest.mark.parametrize(
    ("text", "quicks"),
    [("0.05:2/3", (QuickLane(0.05, 2, 3),)), ("0.1:2/4, off", (QuickLane(0.1, 2, 4), None))],
)
def test_quick_lanes_parse(text, quicks):
    assert parse_quicks(text) == quicks


@pytest.mark.parametrize(("text", "score"), [("0.5", 0.5), ("off", None), ("OFF", None), ("0", 0.0)])
def test_the_gun_hold_parses(text, score):
    assert parse_gun_hold(text) == score


@pytest.mark.parametrize("text", ["1.5", "-0.1", "half"])
def test_a_bad_gun_hold_names_itself(text):
    with pytest.raises(ValueError, match=f"--gun-hold must be a score in \\[0, 1\\] or off, not '{text}'"):
        parse_gun_hold(text)


@pytest.mark.parametrize("text", ["0.05", "x:2/3", "0.05:2", "on"])
def test_a_malformed_quick_lane_names_itself(text):
    with pytest.raises(ValueError, match="a quick lane is MARGIN:HITS/FRAMES"):
        parse_quicks(text)


def test_a_quick_lane_needing_more_hits_than_frames_is_refused():
    with pytest.raises(ValueError, match=r"1 <= hits <= frames, got \+0.05: 4 of 3"):
        AlarmBenchSettings((Path("clips"),), quicks=(QuickLane(0.05, 4, 3),))


def test_a_run_on_the_demo_clip_alarms_its_gun_episode_and_nothing_else(tmp_path: Path):
    clips = tmp_path / "clips"
    (clips / "negatives").mkdir(parents=True)
    shutil.copy(DEMO, clips / "lobby.mp4")
    (clips / "lobby.json").write_text(json.dumps({"episodes": [[3.0, 7.0]]}))
    write_video(clips / "negatives" / "grey.mp4", frames=20, size=(160, 120), fps=10.0)
    (clips / "negatives" / "grey.json").write_text(json.dumps({"episodes": []}))
    out = tmp_path / "out"

    result = CliRunner().invoke(app, ["bench", "alarms", "--clips", str(clips), "--windows", "3/5,2/4",
                                      "--out", str(out), "--json"])

    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["settings"]["second_look"] is True and report["settings"]["fps"] == 5.0
    assert report["settings"]["gun_hold_score"] == 0.5  # the live motion gate's hold, as replayed
    assert "(forced check every 2 s, held open while a gun scored >= 0.5)" in result.stderr
    assert [c["name"] for c in report["clips"]] == ["lobby", "negatives/grey"]
    assert len(report["runs"]) == 2  # the model's threshold x two windows
    for setting_run in report["runs"]:
        total = setting_run["total"]
        assert (total["episodes"], total["alarmed"], total["false_outside"], total["off_gun"]) == (1, 1, 0, 0)
        lobby = setting_run["clips"][0]
        assert lobby["episodes"][0]["status"] == "alarmed" and 0 <= lobby["episodes"][0]["latency_s"] < 4.0
        assert [a["verdict"] for a in lobby["alarms"]] == ["unchecked"]  # no gun boxes in this sidecar
    assert report["recommended"] is not None
    assert json.loads((out / "report.json").read_text()) == report
    # Without --thresholds, the live alarm threshold: by default the shipped detector runs with the shipped gun
    # verifier, whose file carries it (gunwatch.alarm_threshold). Each window with the live quick lane.
    assert "gunwatch-nano+verifier" in result.stderr
    live = OnnxGunVerifier.load(SHIPPED_VERIFIER).alarm_threshold
    assert sorted(p.name for p in out.glob("*.png")) == [f"alarms-t{live:.2f}-2of4-q0.05-2of3.png",
                                                         f"alarms-t{live:.2f}-3of5-q0.05-2of3.png"]
    assert f"threshold {live:.2f}, 3 of 5" in result.stderr and "0 in 0.0 min" in result.stderr
    # Two seconds of gun-free footage bound nothing usefully: the interval says how little it shows.
    assert report["runs"][0]["intervals_95"]["false_per_hour"][1] > 1000


def test_the_gun_hold_can_be_turned_off_or_refused_from_the_command_line(tmp_path: Path):
    clips = tmp_path / "clips"
    clips.mkdir()
    write_video(clips / "grey.mp4", frames=10, size=(160, 120), fps=10.0)
    (clips / "grey.json").write_text(json.dumps({"episodes": []}))
    off = CliRunner().invoke(app, ["bench", "alarms", "--clips", str(clips), "--gun-hold", "off", "--json"])
    assert off.exit_code == 0, off.output
    assert json.loads(off.stdout)["settings"]["gun_hold_score"] is None  # off reaches the bench, not the default
    assert "(forced check every 2 s)" in off.stderr and "held open" not in off.stderr
    bad = CliRunner().invoke(app, ["bench", "alarms", "--clips", str(clips), "--gun-hold", "2"])
    assert bad.exit_code == 2 and "--gun-hold must be a score in [0, 1] or off, not '2'" in bad.stderr


def test_a_clip_without_a_sidecar_is_a_clear_error(tmp_path: Path):
    write_video(tmp_path / "door.mp4", frames=5)
    result = CliRunner().invoke(app, ["bench", "alarms", "--clips", str(tmp_path)])
    assert result.exit_code == 2
    assert f"{tmp_path / 'door.json'}: missing" in result.stderr


def test_phases_play_each_clip_again_from_another_sampling_offset(tmp_path: Path):
    shutil.copy(DEMO, tmp_path / "lobby.mp4")
    (tmp_path / "lobby.json").write_text(json.dumps({"episodes": [[3.0, 7.0]]}))

    result = CliRunner().invoke(app, ["bench", "alarms", "--clips", str(tmp_path), "--windows", "2/3",
                                      "--phases", "2", "--json"])

    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert [(c["name"], c["phase_s"]) for c in report["clips"]] == [("lobby", 0.0), ("lobby", 0.1)]
    (setting_run,) = report["runs"]
    assert [(c["clip"], c["phase_s"]) for c in setting_run["clips"]] == [("lobby", 0.0), ("lobby", 0.1)]
    assert setting_run["total"]["episodes"] == 2 and setting_run["total"]["clips"] == 2  # counts add over plays
    # The intervals count the clip once: one episode, however often it was played.
    assert setting_run["intervals_95"]["episodes"] == 1 and setting_run["intervals_95"]["alarmed"] in (0, 1)
    assert "95 % intervals: " in result.stderr and "distinct episodes alarmed" in result.stderr
    assert "lobby +100 ms" in result.stderr and "2 plays (1 clips x 2 phases)" in result.stderr


def test_a_clip_that_cannot_be_played_is_named_and_the_others_still_count(tmp_path: Path):
    write_video(tmp_path / "door.mp4", frames=20, size=(160, 120), fps=10.0)
    (tmp_path / "door.json").write_text(json.dumps({"episodes": []}))
    (tmp_path / "cut.MOV").write_bytes(DEMO.read_bytes()[:5000])  # a copy broken off in transfer
    (tmp_path / "cut.json").write_text(json.dumps({"episodes": [[3.0, 7.0]]}))

    result = CliRunner().invoke(app, ["bench", "alarms", "--clips", str(tmp_path), "--windows", "3/5", "--json"])

    assert result.exit_code == 1, result.output  # the numbers stand for the clips played, not for all given
    report = json.loads(result.stdout)
    assert [c["name"] for c in report["clips"]] == ["door"]
    assert report["runs"][0]["total"]["episodes"] == 0  # the broken clip's episode is not counted as missed
    (left_out,) = report["not_played"]
    assert left_out.startswith(f"{tmp_path / 'cut.MOV'}: ")
    assert f"1 clip(s) not played, left out of every number: {tmp_path / 'cut.MOV'}" in result.stderr


def test_when_no_clip_can_be_played_the_run_says_so(tmp_path: Path):
    (tmp_path / "cut.mp4").write_bytes(b"not a video")
    (tmp_path / "cut.json").write_text(json.dumps({"episodes": []}))
    result = CliRunner().invoke(app, ["bench", "alarms", "--clips", str(tmp_path)])
    assert result.exit_code == 2
    assert f"no clip could be played: {tmp_path / 'cut.mp4'}: " in result.stderr
