"""select_records: which images an evaluation uses (a split of the data set, or all of it)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from gunwatch.data.records import DatasetError, ImageRecord
from gunwatch.evaluation.selection import default_split_file, sample_records, select_records, slug

NOTEBOOK = Path(__file__).resolve().parents[1] / "fixtures" / "datasets" / "notebook"
ALL_KEYS = ["1.jpg", "2.jpg", "3.jpg", "4.jpg"]
SPLIT = {"dataset": "notebook", "seed": 0, "train": ["1.jpg"], "val": ["3.jpg"], "test": ["4.jpg", "2.jpg"]}


@pytest.fixture
def in_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Run in an empty folder: the default split file (splits/<name>.json) is relative to it."""
    monkeypatch.chdir(tmp_path)
    return tmp_path


def write_split(path: Path, payload: dict = SPLIT) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(payload))
    return path


def keys(selection) -> list[str]:
    return [record.key for record in selection.records]


def test_no_split_and_no_split_file_means_every_image(in_tmp: Path) -> None:
    selection = select_records(NOTEBOOK, None)
    assert keys(selection) == ALL_KEYS
    assert selection.description == f"all 4 images of {NOTEBOOK}"


@pytest.mark.parametrize(
    ("split", "expected"),
    [(None, ["4.jpg", "2.jpg"]), ("test", ["4.jpg", "2.jpg"]), ("val", ["3.jpg"]), ("train", ["1.jpg"])],
)
def test_with_an_explicit_split_file(in_tmp: Path, split: str | None, expected: list[str]) -> None:
    split_file = write_split(in_tmp / "my-split.json")
    selection = select_records(NOTEBOOK, split, split_file)
    assert keys(selection) == expected
    assert selection.description == f"the {split or 'test'} split of {NOTEBOOK} ({split_file})"


def test_default_split_file_is_found_and_gives_the_test_split(in_tmp: Path) -> None:
    assert default_split_file(NOTEBOOK) == Path("splits/notebook.json")
    write_split(in_tmp / "splits" / "notebook.json")
    selection = select_records(NOTEBOOK, None)
    assert keys(selection) == ["4.jpg", "2.jpg"]
    assert selection.description == f"the test split of {NOTEBOOK} (splits/notebook.json)"


@pytest.mark.parametrize("split_file", [None, "my-split.json"])
def test_split_all_ignores_the_split_file(in_tmp: Path, split_file: str | None) -> None:
    write_split(in_tmp / "splits" / "notebook.json")
    write_split(in_tmp / "my-split.json")
    selection = select_records(NOTEBOOK, "all", Path(split_file) if split_file else None)
    assert keys(selection) == ALL_KEYS


@pytest.mark.parametrize("split", ["test", "val", "train"])
def test_named_split_without_a_split_file_is_an_error(in_tmp: Path, split: str) -> None:
    with pytest.raises(DatasetError) as raised:
        select_records(NOTEBOOK, split)
    assert str(raised.value).startswith(f"splits/notebook.json: no split file for {NOTEBOOK}")
    assert f"gunwatch data split {NOTEBOOK}" in str(raised.value)


def test_missing_explicit_split_file_is_an_error_naming_it(in_tmp: Path) -> None:
    missing = in_tmp / "nope.json"
    with pytest.raises(DatasetError) as raised:
        select_records(NOTEBOOK, "test", missing)
    assert str(raised.value).startswith(f"{missing}: no split file for {NOTEBOOK}")


@pytest.mark.parametrize(
    ("payload", "split", "fragment"),
    [
        ({**SPLIT, "test": ["4.jpg", "99.jpg"]}, "test", "1 images of the 'test' split are not in"),
        ({"train": ["1.jpg"], "test": ["2.jpg"]}, "val", "unknown split 'val' (have: train, test)"),
        ({"seed": 1}, None, "split file has none of the keys"),
    ],
)
def test_split_file_that_does_not_fit_the_data_set_is_an_error(
    in_tmp: Path, payload: dict, split: str | None, fragment: str
) -> None:
    split_file = write_split(in_tmp / "split.json", payload)
    with pytest.raises(DatasetError) as raised:
        select_records(NOTEBOOK, split, split_file)
    assert fragment in str(raised.value)


def test_skipped_items_are_noted_on_stderr(in_tmp: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data = in_tmp / "PistolData merged"
    shutil.copytree(NOTEBOOK, data)
    (data / "pistol_annotations" / "2.txt").write_text("1 0.5 0.5\n")
    selection = select_records(data, None)
    assert keys(selection) == ["1.jpg", "3.jpg", "4.jpg"]
    assert capsys.readouterr().err == f"note: 1 items skipped (see `gunwatch data check {data}`)\n"
    assert default_split_file(data) == Path("splits/pistoldata_merged.json")


@pytest.mark.parametrize(
    ("name", "expected"),
    [("PistolData_merged", "pistoldata_merged"), ("My Guns (v2)", "my_guns_v2"), ("---", "dataset")],
)
def test_slug(name: str, expected: str) -> None:
    assert slug(name) == expected


def _record(name: str, gun: bool) -> ImageRecord:
    boxes = np.array([[1, 1, 5, 5]], np.float32) if gun else np.zeros((0, 4), np.float32)
    return ImageRecord(Path(name), 10, 10, boxes, ("handgun",) * len(boxes))


def test_a_sample_is_fixed_and_keeps_the_share_of_gun_images_in_split_order() -> None:
    records = [_record(f"{i:03}", gun=i % 4 != 0) for i in range(200)]  # 150 gun images, 50 gun-free
    sample = sample_records(records, 40)
    assert sample == sample_records(records, 40)
    assert sum(r.has_gun for r in sample) == 30 and len(sample) == 40
    assert [r.image_path.name for r in sample] == sorted(r.image_path.name for r in sample)
    assert sample_records(records, None) == records
