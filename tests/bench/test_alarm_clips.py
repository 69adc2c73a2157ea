"""The alarm benchmark's clips and sidecars: found recursively, read strictly, errors named by file and key."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from gunwatch.bench.alarm_clips import OVERLAY_DIR, SidecarError, find_clips, read_clip
from gunwatch.bench.alarm_matching import Episode, GunBox
from gunwatch.bench.alarms import parse_thresholds, parse_windows


def clip(folder: Path, name: str, sidecar: object | None) -> Path:
    path = folder / f"{name}.mp4"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"")  # never decoded here
    if sidecar is not None:
        path.with_suffix(".json").write_text(sidecar if isinstance(sidecar, str) else json.dumps(sidecar))
    return path


def test_clips_are_found_recursively_once_each_with_their_episodes_and_boxes(tmp_path: Path):
    clip(tmp_path, "range", {"episodes": [[3, 6.8]], "what": "ignored",
                             "boxes": [{"t": 4.0, "xyxy": [1, 2, 30, 40]}]})
    clip(tmp_path, "negatives/lobby", {"episodes": []})
    clips = find_clips([tmp_path, tmp_path / "negatives"], overlay=None)
    assert [c.name for c in clips] == ["negatives/lobby", "range"]
    lobby, range_ = clips
    assert lobby.gun_free and lobby.episodes == ()
    assert range_.episodes == (Episode(3.0, 6.8),) and range_.boxes == (GunBox(4.0, (1.0, 2.0, 30.0, 40.0)),)
    assert [c.name for c in find_clips([tmp_path / "negatives"], overlay=None)] == ["lobby"]


def test_any_video_container_in_any_case_is_a_clip_and_hidden_copies_are_not(tmp_path: Path):
    for name in ("IMG_0042.MOV", "door.mkv", "hall.avi", "._IMG_0042.MOV"):
        (tmp_path / name).write_bytes(b"")  # never decoded here
        (tmp_path / name).with_suffix(".json").write_text(json.dumps({"episodes": []}))
    (tmp_path / "range.mp4.txt").write_text("not a clip")
    assert [c.name for c in find_clips([tmp_path], overlay=None)] == ["IMG_0042", "door", "hall"]


def test_an_overlay_adds_boxes_to_a_read_only_sidecar(tmp_path: Path):
    path = clip(tmp_path / "videos", "pistol", {"episodes": [[0, 5]], "boxes": [{"t": 3.0, "xyxy": [0, 0, 9, 9]}]})
    overlay = tmp_path / "overlay"
    overlay.mkdir()
    (overlay / "pistol.json").write_text(json.dumps({"note": "by hand", "boxes": [{"t": 1.0, "xyxy": [5, 5, 8, 8]}]}))
    assert [b.t for b in read_clip(path, "pistol", overlay).boxes] == [1.0, 3.0]
    (overlay / "pistol.json").write_text(json.dumps({"episodes": [[0, 1]]}))
    with pytest.raises(SidecarError, match=r"overlay.pistol\.json: an overlay holds only 'boxes'"):
        read_clip(path, "pistol", overlay)


def test_the_repository_overlay_boxes_the_range_pistol():
    overlay = OVERLAY_DIR / "jpadwor1_range-pistol.json"
    if not overlay.is_file():
        pytest.skip("no sidecars/ folder (an installed package)")
    boxes = json.loads(overlay.read_text())["boxes"]
    assert len(boxes) >= 10 and all(b["xyxy"][0] < b["xyxy"][2] <= 640 for b in boxes)


@pytest.mark.parametrize(
    ("sidecar", "message"),
    [
        (None, r"lobby\.json: missing \(each clip needs NAME\.json"),
        ("{not json", r"lobby\.json: not readable JSON"),
        ([[0, 1]], r"lobby\.json: must be a JSON object"),
        ({"source": "x"}, r"lobby\.json: episodes: missing \(use \[\] for a clip without guns\)"),
        ({"episodes": "0-5"}, r"lobby\.json: episodes: must be a list"),
        ({"episodes": [[0, 1, 2]]}, r"lobby\.json: episodes\[0\]: must be a \[start_s, end_s\] pair"),
        ({"episodes": [[0, 1], [5, "6"]]}, r"lobby\.json: episodes\[1\]: must be a number, got '6'"),
        ({"episodes": [[4, 2]]}, r"lobby\.json: episodes\[0\]: needs 0 <= start < end, got \[4, 2\]"),
        ({"episodes": [], "boxes": {}}, r"lobby\.json: boxes: must be a list"),
        ({"episodes": [], "boxes": [{"t": 1}]}, r"lobby\.json: boxes\[0\]: must be \{"),
        ({"episodes": [], "boxes": [{"t": 1, "xyxy": [1, 2, 3]}]}, r"lobby\.json: boxes\[0\]\.xyxy: must be"),
        ({"episodes": [], "boxes": [{"t": 1, "xyxy": [5, 2, 3, 4]}]}, r"lobby\.json: boxes\[0\]: needs t >= 0"),
    ],
)
def test_a_missing_or_malformed_sidecar_names_its_file_and_key(tmp_path: Path, sidecar, message):
    clip(tmp_path, "lobby", sidecar)
    with pytest.raises(SidecarError, match=message):
        find_clips([tmp_path], overlay=None)


def test_folders_without_clips_are_errors(tmp_path: Path):
    with pytest.raises(SidecarError, match="not a folder of clips"):
        find_clips([tmp_path / "nowhere"], overlay=None)
    (tmp_path / "notes.txt").write_text("the clips come on Monday")
    with pytest.raises(SidecarError, match=r"no video clips \(\.mp4, .*\) under"):
        find_clips([tmp_path], overlay=None)


def test_sweep_options_parse_or_say_what_is_wrong():
    assert parse_windows("3/5, 2/4,1/1") == ((3, 5), (2, 4), (1, 1))
    assert parse_thresholds("0.3,0.75") == (0.3, 0.75)
    for bad in ("3-5", "3/", "a/5"):
        with pytest.raises(ValueError, match="a window is HITS/FRAMES"):
            parse_windows(bad)
    with pytest.raises(ValueError, match="thresholds are numbers"):
        parse_thresholds("0.3,high")
