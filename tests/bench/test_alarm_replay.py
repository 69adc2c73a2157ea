"""`alarm_replay.play_clip`: the sampling phase decides which frames of a clip the loop analyses, and the motion
gate (held open by a gun in view, as live) which of them it skips."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from gunwatch.bench.alarm_clips import BenchClip
from gunwatch.bench.alarm_replay import play_clip, play_label
from gunwatch.bench.alarms import AlarmBenchSettings, bench_site, clip_camera, phase_offsets
from gunwatch.inference.loading import load_detector
from gunwatch.pipeline.analysis import FrameAnalyzer
from gunwatch.pipeline.watch_command import input_side, second_look_params
from gunwatch.video.files import video_frames
from gunwatch.video.writer import VideoWriter
from support.videos import write_video

DEMO = Path(__file__).resolve().parents[2] / "samples" / "demo" / "lobby.mp4"  # a handgun from 3 s to 7 s


@pytest.fixture(scope="module")
def analyzer_and_site(tmp_path_factory: pytest.TempPathFactory):
    folder = tmp_path_factory.mktemp("replay")
    clip = write_video(folder / "door.mp4", frames=30, fps=30.0)
    settings = AlarmBenchSettings((folder,), phases=3, motion=False)
    site = bench_site(folder, settings, clip)
    detector = load_detector(None)
    return FrameAnalyzer(detector, input_side(detector), second_look_params(site)), site, settings, clip


def test_phases_spread_over_one_sampling_period():
    settings = AlarmBenchSettings((Path("clips"),), fps=5.0, phases=4)
    assert phase_offsets(settings) == pytest.approx([0.0, 0.05, 0.1, 0.15])
    assert phase_offsets(AlarmBenchSettings((Path("clips"),))) == [0.0]


def test_fewer_than_one_phase_is_refused():
    with pytest.raises(ValueError, match="phases must be at least 1"):
        AlarmBenchSettings((Path("clips"),), phases=0)


def test_each_phase_samples_its_own_frames_of_the_clip(analyzer_and_site):
    analyzer, site, settings, path = analyzer_and_site
    clip = BenchClip("door", path, ())
    camera = clip_camera(clip, settings)
    plays = [play_clip(clip, camera, site, analyzer, gun_class_id=1, keep_score=0.5, phase_s=phase)
             for phase in phase_offsets(settings)]

    # 30 fps sampled at 5 a second: every 6th frame, from frame 0, 2 or 4 (offsets 0, 67 and 133 ms).
    sampled = [[frame.index for frame in play.sampled] for play in plays]
    assert sampled == [[0, 6, 12, 18, 24], [2, 8, 14, 20, 26], [4, 10, 16, 22, 28]]
    assert all(frame.detections is not None for play in plays for frame in play.sampled)  # no motion gate here
    # Every play covers the whole clip: clip time starts at the first frame whatever the phase.
    assert {(play.start_pts, round(play.duration_s, 6)) for play in plays} == {(plays[0].start_pts, 1.0)}
    assert [play.label for play in plays] == ["door", "door +67 ms", "door +133 ms"]


def test_a_play_label_names_its_phase_only_when_it_has_one():
    assert play_label("negatives/lobby", 0.0) == "negatives/lobby"
    assert play_label("negatives/lobby", 0.1) == "negatives/lobby +100 ms"


def still_clip(path: Path, picture: np.ndarray, seconds: float = 3.0, fps: float = 10.0) -> Path:
    with VideoWriter(path, fps, threads=1) as writer:
        for _ in range(round(seconds * fps)):
            writer.write(picture)
    return path


def test_a_gun_held_still_is_analysed_at_every_sample_and_a_still_room_only_at_the_forced_checks(tmp_path: Path):
    # The demo's gun, frozen: a fixed camera watching someone aim without moving. The gate finds the picture
    # still after the first frame; the gun it saw there keeps every later sample analysed.
    gun = next(frame.image for frame in video_frames(DEMO) if frame.time_s is not None and frame.time_s >= 5.0)
    held = still_clip(tmp_path / "aim.mp4", gun)
    room = still_clip(tmp_path / "room.mp4", np.full_like(gun, 90))
    settings = AlarmBenchSettings((tmp_path,))  # the motion gate on, as live
    site = bench_site(tmp_path, settings, held)
    detector = load_detector(None)
    analyzer = FrameAnalyzer(detector, input_side(detector), second_look_params(site))
    plays = {}
    for name, path in (("aim", held), ("room", room)):
        clip = BenchClip(name, path, ())
        plays[name] = play_clip(clip, clip_camera(clip, settings), site, analyzer, gun_class_id=1, keep_score=0.5)
    aim, still_room = plays["aim"], plays["room"]
    assert len(aim.sampled) == len(still_room.sampled) == 15  # 3 s at 5 a second
    assert aim.analysed == 15
    assert max(float(f.detections.of_class(1).scores.max()) for f in aim.sampled) >= 0.5  # the gun was seen
    # The empty room: the first frame, then the forced check after 2 s.
    assert [f.index for f in still_room.sampled if f.detections is not None] == [0, 20]
    # `--gun-hold off`: the aiming gun waits for the forced check too, as before the hold.
    unheld = AlarmBenchSettings((tmp_path,), gun_hold_score=None)
    site = bench_site(tmp_path, unheld, held)
    clip = BenchClip("aim", held, ())
    alone = play_clip(clip, clip_camera(clip, unheld), site, analyzer, gun_class_id=1, keep_score=0.5)
    assert [f.index for f in alone.sampled if f.detections is not None] == [0, 20]
