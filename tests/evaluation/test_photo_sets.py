"""`gunwatch eval-photos`: image-level rates from two folders of photos, no boxes; the same as `eval` counts them."""

from __future__ import annotations

import json
import math
import shutil
from pathlib import Path

from PIL import Image
from typer.testing import CliRunner

from gunwatch.cli import app
from gunwatch.evaluation.evaluate import evaluate
from gunwatch.evaluation.photo_sets import evaluate_photo_sets
from gunwatch.evaluation.selection import select_records
from gunwatch.inference.loading import SHIPPED_DETECTOR, load_detector

SAMPLE = Path(__file__).resolve().parents[2] / "samples" / "pistol-sample"


def sorted_sample(out: Path) -> tuple[Path, Path]:
    """The sample's photos copied into guns/ and gun-free/ by their labels."""
    guns, free = out / "guns", out / "gun-free"
    guns.mkdir(parents=True)
    free.mkdir()
    for record in select_records(SAMPLE, "all").records:
        shutil.copy(record.image_path, (guns if record.has_gun else free) / record.image_path.name)
    return guns, free


def test_two_folders_give_the_image_level_numbers_eval_gives_on_the_labelled_set(tmp_path: Path) -> None:
    guns, free = sorted_sample(tmp_path)
    detector = load_detector(SHIPPED_DETECTOR, verifier="auto", threads=1)
    labelled = evaluate(detector, SAMPLE, split="all", progress=False).report
    photos = evaluate_photo_sets(detector, guns, free, progress=False)
    assert photos.gun_photos + photos.gun_free_photos == labelled.images == 32
    assert photos.gun_free_photos > 0 and photos.gun_photos > 0
    assert (photos.recall, photos.flagged) == (labelled.image_recall, labelled.image_fpr)
    assert photos.recall_at_flagged.keys() == labelled.image_recall_at_fpr.keys()
    for key, value in photos.recall_at_flagged.items():
        assert value == labelled.image_recall_at_fpr[key] or (math.isnan(value) and
                                                              math.isnan(labelled.image_recall_at_fpr[key]))
    assert len(photos.missed) == round((1 - photos.recall) * photos.gun_photos)
    assert photos.unreadable == []
    # The same 95 % intervals at the threshold (exact binomial); the bootstrap's hold the recalls they surround.
    assert photos.intervals["recall"] == labelled.intervals["image_recall"]
    assert photos.intervals["flagged"] == labelled.intervals["image_fpr"]
    for key, (low, high) in photos.intervals["recall_at_flagged"].items():
        assert low <= photos.recall_at_flagged[key] <= high
    assert evaluate_photo_sets(detector, guns, free, progress=False, draws=0).intervals == {}


def test_the_command_lists_what_to_look_at_and_a_photo_that_does_not_decode(tiny_detector_onnx: Path,
                                                                            tmp_path: Path) -> None:
    guns, free = tmp_path / "armed", tmp_path / "unarmed"
    guns.mkdir()
    free.mkdir()
    for folder, count in ((guns, 3), (free, 4)):
        for index in range(count):
            Image.new("RGB", (96, 64), (40 * index, 90, 60)).save(folder / f"{index}.jpg")
    (free / "broken.jpg").write_bytes(b"not a jpeg")
    result = CliRunner().invoke(app, ["eval-photos", str(guns), str(free), "--model", str(tiny_detector_onnx),
                                      "--threshold", "0", "--threads", "1", "--json"])
    assert result.exit_code == 1, result.output  # the numbers stand, but one photo was not looked at
    payload = json.loads(result.stdout)
    assert (payload["gun_photos"], payload["gun_free_photos"]) == (3, 4)
    assert (payload["recall"], payload["flagged"], payload["threshold"]) == (1.0, 1.0, 0.0)  # all flagged at 0
    assert payload["false_alarms"] and not payload["missed"]
    assert len(payload["unreadable"]) == 1 and "broken.jpg: image does not decode" in payload["unreadable"][0]
    assert "did not decode:" in result.stderr and "photos with a gun / without" in result.stderr


def test_photos_in_subfolders_count_and_files_that_are_not_photos_are_named(tiny_detector_onnx: Path,
                                                                          tmp_path: Path) -> None:
    guns, free = tmp_path / "armed", tmp_path / "unarmed"
    for folder, names in ((guns, ("indoor/0.jpg", "outdoor/1.jpg", "2.jpg")), (free, ("0.jpg", "night/1.jpg"))):
        for name in names:
            (folder / name).parent.mkdir(parents=True, exist_ok=True)
            Image.new("RGB", (96, 64), (90, 90, 60)).save(folder / name)
    (guns / "outdoor" / "README.txt").write_text("shot on the 5th")
    result = CliRunner().invoke(app, ["eval-photos", str(guns), str(free), "--model", str(tiny_detector_onnx),
                                      "--threshold", "0", "--threads", "1", "--json", "--draws", "0"])
    assert result.exit_code == 0, result.output
    payload = json.loads(result.stdout)
    assert (payload["gun_photos"], payload["gun_free_photos"]) == (3, 2)
    assert sorted(payload["false_alarms"]) == ["0.jpg", "night/1.jpg"]  # named by their path below the folder
    assert payload["not_photos"] == [str(guns / "outdoor" / "README.txt")]
    assert "not images, left out:" in result.stderr


def test_a_missing_folder_is_a_clear_error(tiny_detector_onnx: Path, tmp_path: Path) -> None:
    (tmp_path / "guns").mkdir()
    Image.new("RGB", (32, 32)).save(tmp_path / "guns" / "a.jpg")
    result = CliRunner().invoke(app, ["eval-photos", str(tmp_path / "guns"), str(tmp_path / "nowhere"),
                                      "--model", str(tiny_detector_onnx)])
    assert result.exit_code == 2
    assert f"{tmp_path / 'nowhere'}: no such folder" in result.stderr
