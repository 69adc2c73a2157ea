"""`gunwatch detect` on an image, a folder and a video, with and without tiles; JSON Lines out."""

from __future__ import annotations

import json
from pathlib import Path

import av
import numpy as np
from PIL import Image
from typer.testing import CliRunner

from gunwatch.cli import app
from support.videos import write_video

SAMPLE_IMAGES = Path(__file__).resolve().parents[1] / "samples" / "pistol-sample" / "pistol_images"


def run(*args: str):
    return CliRunner().invoke(app, ["detect", *args])


def json_lines(text: str) -> list[dict]:
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def test_an_image_gives_one_json_line_with_boxes_in_its_pixels(tiny_detector_onnx: Path, tmp_path: Path) -> None:
    image = sorted(SAMPLE_IMAGES.iterdir())[0]
    result = run(str(image), "--model", str(tiny_detector_onnx), "--threshold", "0", "--json", "--out",
                 str(tmp_path), "--threads", "1")
    assert result.exit_code == 0, result.stderr
    (line,) = json_lines(result.stdout)
    assert line["source"] == str(image) and line["frame"] == 0
    assert line["detections"]
    width, height = Image.open(image).size
    for found in line["detections"]:
        assert found["label"] in ("person", "handgun") and 0 <= found["score"] <= 1
        x1, y1, x2, y2 = found["box"]
        assert 0 <= x1 <= x2 <= width and 0 <= y1 <= y2 <= height
    assert (tmp_path / f"{image.stem}.annotated.jpg").is_file()


def test_a_folder_with_and_without_tiles(tiny_detector_onnx: Path, tmp_path: Path) -> None:
    folder = tmp_path / "frames"
    folder.mkdir()
    rng = np.random.default_rng(0)
    for index in range(2):
        Image.fromarray(rng.integers(0, 255, (540, 960, 3), dtype=np.uint8)).save(folder / f"{index}.jpg")
    plain = run(str(folder), "--model", str(tiny_detector_onnx), "--tiles", "off", "--json", "--no-save",
                "--threshold", "0.2", "--threads", "1")
    tiled = run(str(folder), "--model", str(tiny_detector_onnx), "--tiles", "on", "--json", "--no-save",
                "--threshold", "0.2", "--threads", "1")
    default = run(str(folder), "--model", str(tiny_detector_onnx), "--json", "--no-save", "--threshold", "0.2",
                  "--threads", "1")
    assert plain.exit_code == 0 and tiled.exit_code == 0 and default.exit_code == 0, plain.stderr + tiled.stderr
    plain_lines, tiled_lines = json_lines(plain.stdout), json_lines(tiled.stdout)
    assert json_lines(default.stdout) == plain_lines  # untiled unless asked, as watch and eval
    assert [line["source"] for line in plain_lines] == [str(folder / "0.jpg"), str(folder / "1.jpg")]
    assert [line["source"] for line in tiled_lines] == [line["source"] for line in plain_lines]
    assert plain_lines != tiled_lines  # tiles look at 128 px crops at full resolution: other boxes
    assert not (tmp_path / "runs").exists()


def test_a_video_gives_a_line_per_analysed_frame_and_an_annotated_clip(tiny_detector_onnx: Path,
                                                                        tmp_path: Path) -> None:
    video = write_video(tmp_path / "clip.mp4", frames=9)
    result = run(str(video), "--model", str(tiny_detector_onnx), "--every", "4", "--json", "--out",
                 str(tmp_path / "out"), "--threads", "1")
    assert result.exit_code == 0, result.stderr
    assert [line["frame"] for line in json_lines(result.stdout)] == [0, 4, 8]
    assert (tmp_path / "out" / "clip.annotated.mp4").stat().st_size > 0
    assert "3 frame(s)" in result.stderr


def test_a_bad_source_is_a_clear_error(tiny_detector_onnx: Path, tmp_path: Path) -> None:
    result = run(str(tmp_path / "nothing.mp4"), "--model", str(tiny_detector_onnx))
    assert result.exit_code == 2
    assert f"{tmp_path / 'nothing.mp4'}: no such file or folder" in result.stderr
    bad_tiles = run(str(tmp_path), "--model", str(tiny_detector_onnx), "--tiles", "sometimes")
    assert bad_tiles.exit_code == 2 and "--tiles must be auto, on or off" in bad_tiles.stderr


def test_a_folder_with_a_broken_image_analyses_the_others_and_says_which_failed(tiny_detector_onnx: Path,
                                                                               tmp_path: Path) -> None:
    folder = tmp_path / "photos"
    folder.mkdir()
    for name in ("a.jpg", "c.jpg"):
        Image.new("RGB", (96, 64), (120, 90, 60)).save(folder / name)
    (folder / "b.jpg").write_bytes(b"not a jpeg")  # broken in transfer
    (folder / "notes.txt").write_text("taken on the 3rd floor")
    (folder / "._a.jpg").write_bytes(b"\0\x05\x16\x07 Mac OS X")  # a Mac's AppleDouble copy: hidden, left out
    result = run(str(folder), "--model", str(tiny_detector_onnx), "--json", "--no-save", "--threads", "1")
    assert result.exit_code == 1, result.stderr  # the results stand; the run says not all was looked at
    assert [Path(line["source"]).name for line in json_lines(result.stdout)] == ["a.jpg", "c.jpg"]
    assert f"skipped: {folder / 'b.jpg'}: image does not decode" in result.stderr
    assert f"skipped: {folder}: 1 file(s) that are neither images nor videos left out (.txt 1)" in result.stderr
    assert "._a.jpg" not in result.stderr
    summary = result.stderr.splitlines()[-1]
    assert summary.startswith("2 frame(s), ") and summary.endswith("; 1 file(s) could not be read whole (above)")


def test_a_folder_tree_is_analysed_whole_and_its_copies_keep_their_folders(tiny_detector_onnx: Path,
                                                                          tmp_path: Path) -> None:
    folder = tmp_path / "photos"
    for name in ("lobby/a.jpg", "lobby/a.png", "stairs/2026-12-07/b.jpg", "c.jpg"):
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        Image.new("RGB", (96, 64), (120, 90, 60)).save(folder / name)
    out = tmp_path / "out"
    result = run(str(folder), "--model", str(tiny_detector_onnx), "--json", "--out", str(out), "--threads", "1")
    assert result.exit_code == 0, result.stderr
    assert [line["source"] for line in json_lines(result.stdout)] == [
        str(folder / name) for name in ("c.jpg", "lobby/a.jpg", "lobby/a.png", "stairs/2026-12-07/b.jpg")]
    copies = sorted(p.relative_to(out).as_posix() for p in out.rglob("*.jpg"))
    # a.jpg and a.png each keep their own copy
    assert copies == ["c.annotated.jpg", "lobby/a.annotated.jpg", "lobby/a.png.annotated.jpg",
                      "stairs/2026-12-07/b.annotated.jpg"]
    told = run(str(folder), "--model", str(tiny_detector_onnx), "--no-save", "--threads", "1")
    assert "lobby/a.png #0:" in told.stderr  # the path below the folder tells which a.png


def test_a_folder_of_clips_and_photos_gives_each_clip_its_annotated_video(tiny_detector_onnx: Path,
                                                                         tmp_path: Path) -> None:
    folder = tmp_path / "footage"
    write_video(folder / "lobby" / "cam1.mp4", frames=5)
    write_video(folder / "lobby" / "cam1.mov", frames=3)  # the same stem: each keeps its own copy
    (folder / "stairs").mkdir()
    Image.new("RGB", (96, 64), (120, 90, 60)).save(folder / "stairs" / "still.jpg")
    (folder / "stairs" / "broken.mp4").write_text("not a video")
    out = tmp_path / "out"
    result = run(str(folder), "--model", str(tiny_detector_onnx), "--every", "2", "--json", "--out", str(out),
                 "--threads", "1")
    assert result.exit_code == 1, result.stderr  # the broken clip: the results stand, the run says so
    assert [(Path(line["source"]).relative_to(folder).as_posix(), line["frame"])
            for line in json_lines(result.stdout)] == [
        ("lobby/cam1.mov", 0), ("lobby/cam1.mov", 2), ("lobby/cam1.mp4", 0), ("lobby/cam1.mp4", 2),
        ("lobby/cam1.mp4", 4), ("stairs/still.jpg", 0)]
    assert f"skipped: {folder / 'stairs' / 'broken.mp4'}: not a readable video" in result.stderr
    copies = sorted(p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file())
    assert copies == ["lobby/cam1.annotated.mp4", "lobby/cam1.mp4.annotated.mp4", "stairs/still.annotated.jpg"]
    with av.open(str(out / "lobby" / "cam1.mp4.annotated.mp4")) as container:  # the .mp4's 3 analysed frames
        assert sum(1 for _ in container.decode(video=0)) == 3
