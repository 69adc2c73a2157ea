"""A drill recording labelled by the detector: a real H.264 clip with its sidecar, frames sampled by their
timestamps, the detector's answers written out (a stand-in with the Detector interface), and the folder read
back by the data set reader and the training's split; the command on the shipped model."""

from __future__ import annotations

import json
import stat
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from gunwatch.cli import app, data_drill
from gunwatch.data.images import load_rgb
from gunwatch.data.layouts import read_dataset
from gunwatch.data.split import load_split
from gunwatch.events.drill_frames import DrillSettings, export_drill, frame_key, sampled
from gunwatch.inference.detections import Detections
from gunwatch.video.files import video_frames
from gunwatch.video.writer import VideoWriter

PERSON, HANDGUN = 0, 1
SIZE = (160, 120)
MAN = ((20, 10, 80, 110), 0.9, PERSON)  # his reach: about 30 px beyond each side
IN_HAND = (60, 50, 76, 62)
FAR_RIGHT = (140, 5, 155, 15)  # out of anyone's reach: a lamp on the wall
# 6 s at 10 fps, sampled at 2 a second: 0, 0.5, ..., 5.5. The gun is in view from 2 to 4 s; with 0.5 s margins
# 2.5, 3.0 and 3.5 are inside, 1.5-2.0 and 4.0-4.5 at the edges, the other five gun-free.
EPISODES = [(2.0, 4.0)]
SETTINGS = DrillSettings(fps=2.0, margin_s=0.5, min_score=0.3, guns_per_frame=1)


class ScriptedDetector:
    """The Detector interface, answering each call with the next of the answers it was given."""

    name, class_names, threshold = "scripted", ("person", "handgun"), 0.5

    def __init__(self, *answers: list[tuple[tuple[float, float, float, float], float, int]]):
        self.answers = list(answers)
        self.images: list[np.ndarray] = []

    def detect(self, images: list[np.ndarray]) -> list[Detections]:
        self.images += images
        found = self.answers.pop(0)
        return [Detections([box for box, _, _ in found], [s for _, s, _ in found], [c for _, _, c in found])]


@pytest.fixture
def drill(tmp_path: Path) -> Path:
    path = tmp_path / "clips" / "hall drill.mp4"
    with VideoWriter(path, 10.0, threads=1) as writer:
        for index in range(60):
            writer.write(np.full((SIZE[1], SIZE[0], 3), 40 + 3 * index, np.uint8))
    path.with_suffix(".json").write_text(json.dumps({"episodes": [list(e) for e in EPISODES]}))
    return path


def yolo(box: tuple[float, float, float, float]) -> str:
    x1, y1, x2, y2 = box
    w, h = SIZE
    return f"0 {(x1 + x2) / 2 / w:.6f} {(y1 + y2) / 2 / h:.6f} {(x2 - x1) / w:.6f} {(y2 - y1) / h:.6f}\n"


def test_frames_are_sampled_by_their_timestamps(drill: Path) -> None:
    times = [t for t, _ in sampled(video_frames(drill), 2.0)]
    assert times == pytest.approx([0.5 * i for i in range(12)])
    assert [frame.index for _, frame in sampled(video_frames(drill), 4.0)][:4] == [0, 3, 5, 8]  # 0.1 s frames


def test_the_held_gun_is_labelled_and_the_rest_gun_free_or_left_out(drill: Path, tmp_path: Path) -> None:
    detector = ScriptedDetector(
        [MAN, (IN_HAND, 0.8, HANDGUN), (FAR_RIGHT, 0.95, HANDGUN)],  # 2.5 s: the lamp scores higher, not held
        [MAN, (IN_HAND, 0.2, HANDGUN)],  # 3.0 s: the gun scores under 0.3: left out, not gun-free
        [MAN, ((58, 48, 74, 60), 0.6, HANDGUN), (IN_HAND, 0.7, HANDGUN)],  # 3.5 s: one gun a frame, the best
    )
    out = tmp_path / "drills"
    summary = export_drill(drill, EPISODES, out, detector, camera="hall 2", settings=SETTINGS)

    assert (summary.labelled, summary.unlabelled, summary.gun_free, summary.total) == (2, 1, 5, 7)
    assert len(detector.images) == 3 and detector.answers == []  # only frames inside the episode were run
    assert summary.scores == pytest.approx([0.8, 0.7])
    key = frame_key("hall 2", drill, 2.5)
    assert key == "hall_2/hall_2_hall_drill_t000002.50.jpg"
    assert (out / "labels" / "hall_2" / "hall_2_hall_drill_t000002.50.txt").read_text() == yolo(IN_HAND)
    assert (out / "labels" / "hall_2" / "hall_2_hall_drill_t000003.50.txt").read_text() == yolo(IN_HAND)
    assert not (out / "images" / frame_key("hall 2", drill, 3.0)).exists()
    for t in (1.5, 2.0, 4.0, 4.5):  # at the episode's edges: neither
        assert not (out / "images" / frame_key("hall 2", drill, t)).exists()

    dataset = read_dataset(out)
    assert dataset.layout == "yolo" and dataset.problems == []
    records = {r.key: r for r in load_split(out / "split.json").select(dataset, "train")}
    assert sorted(records) == sorted(frame_key("hall 2", drill, t) for t in (0, 0.5, 1.0, 2.5, 3.5, 5.0, 5.5))
    assert np.allclose(records[key].boxes, [IN_HAND], atol=0.01)
    assert [t for t in (0, 0.5, 1.0, 5.0, 5.5) if records[frame_key("hall 2", drill, t)].has_gun] == []
    # The frame written is the one sampled (brightness 40 + 3 x its index; 2.5 s is frame 25).
    assert abs(load_rgb(records[key].image_path).mean() - (40 + 3 * 25)) < 4
    manifest = [json.loads(line) for line in (out / "manifest.jsonl").read_text().splitlines()]
    assert {(entry["t"], entry["gun"], tuple(entry["scores"])) for entry in manifest} == {
        (0.0, False, ()), (0.5, False, ()), (1.0, False, ()), (2.5, True, (0.8,)), (3.5, True, (0.7,)),
        (5.0, False, ()), (5.5, False, ())}
    assert summary.sheet is not None and summary.sheet.is_file()
    for path in (out / "images" / key, summary.sheet, out / "manifest.jsonl"):
        assert stat.S_IMODE(path.stat().st_mode) == 0o600  # pictures of people


def test_exporting_again_adds_only_new_frames_and_a_frame_deleted_by_hand_stays_out(drill: Path,
                                                                                   tmp_path: Path) -> None:
    out = tmp_path / "drills"
    first = ScriptedDetector([MAN, (IN_HAND, 0.8, HANDGUN)], [MAN], [MAN, (IN_HAND, 0.9, HANDGUN)])
    export_drill(drill, EPISODES, out, first, settings=SETTINGS)
    wrong = out / "images" / frame_key("hall drill", drill, 3.5)
    wrong.unlink()  # a person judged that label wrong

    again = ScriptedDetector([MAN, (IN_HAND, 0.5, HANDGUN)])  # only the frame left out before is run again
    summary = export_drill(drill, EPISODES, out, again, settings=SETTINGS)
    assert (summary.labelled, summary.gun_free, summary.already_there, summary.total) == (1, 0, 7, 7)
    dataset = read_dataset(out)
    assert dataset.problems == []  # the deleted frame's label went with it
    keys = {r.key for r in load_split(out / "split.json").select(dataset, "train")}
    assert frame_key("hall drill", drill, 3.5) not in keys and frame_key("hall drill", drill, 3.0) in keys


def test_frames_written_before_the_detector_failed_are_kept(drill: Path, tmp_path: Path) -> None:
    class FailingSecondTime(ScriptedDetector):
        def detect(self, images: list[np.ndarray]) -> list[Detections]:
            if self.images:
                raise RuntimeError("the model's session died")
            return super().detect(images)

    out = tmp_path / "drills"
    with pytest.raises(RuntimeError, match="session died"):
        export_drill(drill, EPISODES, out, FailingSecondTime([MAN, (IN_HAND, 0.8, HANDGUN)]), settings=SETTINGS)
    dataset = read_dataset(out)
    keys = {r.key for r in load_split(out / "split.json").select(dataset, "train")}
    assert keys == {frame_key("hall drill", drill, t) for t in (0, 0.5, 1.0, 2.5)}  # 3.0 s failed: nothing after
    assert (out / "sheets" / "hall_drill_hall_drill.jpg").is_file()


def test_a_drill_without_episodes_is_refused(drill: Path, tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=r"hall drill\.mp4: .* episodes are empty"):
        export_drill(drill, [], tmp_path / "out", ScriptedDetector(), settings=SETTINGS)


def test_a_detector_without_people_is_refused(drill: Path, tmp_path: Path) -> None:
    guns_only = ScriptedDetector()
    guns_only.class_names = ("handgun",)
    with pytest.raises(ValueError, match="scripted: labelling a drill needs a detector of people and guns"):
        export_drill(drill, EPISODES, tmp_path / "out", guns_only, settings=SETTINGS)


def test_the_commands_defaults_are_the_drills() -> None:
    import inspect

    options = inspect.signature(data_drill).parameters
    defaults = DrillSettings()
    assert (options["fps"].default, options["margin"].default, options["min_score"].default,
            options["guns_per_frame"].default) == (defaults.fps, defaults.margin_s, defaults.min_score,
                                                   defaults.guns_per_frame)


def test_the_command_exports_each_clip_and_names_the_one_without_a_sidecar(drill: Path, tmp_path: Path) -> None:
    lone = drill.with_name("no sidecar.mp4")
    lone.write_bytes(drill.read_bytes())
    out = tmp_path / "drills"
    result = CliRunner().invoke(app, ["data", "drill", str(lone), str(drill), "--out", str(out)])
    assert result.exit_code == 2
    assert f"{lone.with_suffix('.json')}: missing" in result.output and "1 of 2 clips" in result.output
    # The shipped detector finds no gun in a grey picture: the episode's frames are left out, the rest written.
    assert f"{drill}: 0 frames with a gun labelled, 5 gun-free, 3 in an episode left out" in result.output
    assert len(load_split(out / "split.json").select(read_dataset(out), "train")) == 5
