"""The YOLO reader: images/ + labels/ with normalised `class xc yc w h` lines."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from gunwatch import GUN_LABEL
from gunwatch.data.layouts import read_dataset
from gunwatch.data.layouts.base import ReadOptions
from gunwatch.data.records import DatasetError

IMG = (64, 48)
NAMES = "names: [pistol, person]\n"


def test_reads_boxes_as_absolute_xyxy_pixels(make_files) -> None:
    root = make_files(
        {
            "data.yaml": NAMES,
            "images/a.jpg": IMG,
            "labels/a.txt": "0 0.5 0.5 0.5 0.5\n1 0.25 0.25 0.25 0.5\n",
        }
    )
    dataset = read_dataset(root, layout="yolo")
    assert dataset.problems == []
    [record] = dataset.records
    assert (record.image_path, record.width, record.height) == (root / "images/a.jpg", 64, 48)
    np.testing.assert_array_equal(record.boxes, [[16, 12, 48, 36], [8, 0, 24, 24]])
    assert record.labels == (GUN_LABEL, "person")


def test_nested_splits_pair_by_relative_path_and_missing_or_empty_labels_mean_no_objects(make_files) -> None:
    root = make_files(
        {
            "images/train/a.jpg": IMG,
            "labels/train/a.txt": "0 0.5 0.5 0.5 0.5\n",
            "images/train/b.jpg": IMG,
            "labels/train/b.txt": "",
            "images/val/a.jpg": IMG,  # same stem as train/a.jpg, different split: no label file
        }
    )
    dataset = read_dataset(root, layout="yolo")
    assert dataset.problems == []
    counts = {str(r.image_path.relative_to(root)): len(r.boxes) for r in dataset.records}
    assert counts == {"images/train/a.jpg": 1, "images/train/b.jpg": 0, "images/val/a.jpg": 0}


def test_box_poking_out_within_tolerance_is_clipped(make_files) -> None:
    # 1.02 * 64 px wide: 0.64 px past each side, inside the one-pixel tolerance.
    root = make_files({"images/a.jpg": IMG, "labels/a.txt": "0 0.5 0.5 1.02 0.5\n"})
    [record] = read_dataset(root, layout="yolo").records
    np.testing.assert_allclose(record.boxes, [[0, 12, 64, 36]])


@pytest.mark.parametrize(
    ("yaml_file", "yaml_text", "options", "expected"),
    [
        ("data.yaml", NAMES, ReadOptions(), (GUN_LABEL, "person")),
        ("dataset.yaml", NAMES, ReadOptions(), (GUN_LABEL, "person")),
        ("data.yaml", "names:\n  0: revolver\n  1: person\n", ReadOptions(), (GUN_LABEL, "person")),
        ("data.yaml", "names: [knife, person]\n", ReadOptions(), ("knife", "person")),
        ("data.yaml", "nc: 2\n", ReadOptions(), (GUN_LABEL, GUN_LABEL)),  # no names: a single-class gun set
        (None, None, ReadOptions(), (GUN_LABEL, GUN_LABEL)),
        ("data.yaml", NAMES, ReadOptions(gun_classes=frozenset({"1"})), ("pistol", GUN_LABEL)),
        ("data.yaml", NAMES, ReadOptions(gun_classes=frozenset({"person"})), ("pistol", GUN_LABEL)),
        (None, None, ReadOptions(gun_classes=frozenset({"0"})), (GUN_LABEL, "1")),
    ],
)
def test_class_names_map_to_labels(
    make_files, yaml_file: str | None, yaml_text: str | None, options: ReadOptions, expected: tuple[str, ...]
) -> None:
    files = {"images/a.jpg": IMG, "labels/a.txt": "0 0.5 0.5 0.5 0.5\n1 0.5 0.5 0.25 0.25\n"}
    if yaml_file is not None:
        files[yaml_file] = yaml_text
    dataset = read_dataset(make_files(files), layout="yolo", options=options)
    assert dataset.problems == []
    assert dataset.records[0].labels == expected


@pytest.mark.parametrize(
    ("label_text", "line", "fragment"),
    [
        ("0 0.5 0.5 0.5\n", 1, "expected 'class xc yc w h', got 4 fields"),
        ("0 0.5 0.5 0.5 0.5 0.9\n", 1, "got 6 fields"),
        ("0 0.5 0.5 0.5 0.5\n0 0.5 abc 0.5 0.5\n", 2, "xc yc w h must be numbers"),
        ("\n\ngun 0.5 0.5 0.5 0.5\n", 3, "class id 'gun' is not an integer"),
        ("1.0 0.5 0.5 0.5 0.5\n", 1, "class id '1.0' is not an integer"),
        ("2 0.5 0.5 0.2 0.2\n", 1, "class id 2 is not in the class names"),
        ("0 1.3 0.5 0.2 0.2\n", 1, "coordinates out of range"),
        ("0 0.5 0.5 0.5 1.5\n", 1, "coordinates out of range"),
        ("0 0.5 0.5 0 0.2\n", 1, "zero-size box"),
        ("0 0.5 0.5 -0.2 0.2\n", 1, "zero-size box"),
        ("0 0.5 0.5 nan 0.2\n", 1, "non-finite"),
    ],
)
def test_bad_label_line_skips_the_image(make_files, label_text: str, line: int, fragment: str) -> None:
    root = make_files({"data.yaml": NAMES, "images/a.jpg": IMG, "labels/a.txt": label_text})
    dataset = read_dataset(root, layout="yolo")
    assert dataset.records == []
    [problem] = dataset.problems
    assert (problem.path, problem.line) == (root / "labels/a.txt", line)
    assert fragment in problem.message


@pytest.mark.parametrize(
    ("files", "path", "line", "fragment"),
    [
        ({"labels/b.txt": "0 0.5 0.5 0.5 0.5\n"}, "labels/b.txt", None, "label file without image"),
        ({"images/b.jpg": b"not a jpeg"}, "images/b.jpg", None, "image does not decode"),
        ({"images/b.jpg": IMG, "labels/b.txt": b"\xff\xfe\xfa"}, "labels/b.txt", None, "label file is not text"),
    ],
)
def test_file_problems_leave_other_images_readable(
    make_files, files: dict, path: str, line: int | None, fragment: str
) -> None:
    root = make_files({"images/a.jpg": IMG, "labels/a.txt": "0 0.5 0.5 0.5 0.5\n", **files})
    dataset = read_dataset(root, layout="yolo")
    assert [r.image_path.name for r in dataset.records] == ["a.jpg"]
    [problem] = dataset.problems
    assert (problem.path, problem.line) == (root / path, line)
    assert fragment in problem.message


@pytest.mark.parametrize(
    ("yaml_text", "line", "fragment"),
    [
        ("names: [pistol, person\nnc: 2\n", 2, "malformed yaml"),
        ("- pistol\n- person\n", None, "expected a mapping with 'names'"),
        ("names: 3\n", None, "'names' must be a list or a mapping"),
        ("names: {gun: pistol}\n", None, "'names' keys must be class ids"),
    ],
)
def test_bad_yaml_is_a_problem_and_nothing_is_read(make_files, yaml_text: str, line: int | None, fragment: str) -> None:
    root = make_files({"data.yaml": yaml_text, "images/a.jpg": IMG, "labels/a.txt": "0 0.5 0.5 0.5 0.5\n"})
    dataset = read_dataset(root, layout="yolo")
    assert dataset.records == []
    [problem] = dataset.problems
    assert (problem.path, problem.line) == (root / "data.yaml", line)
    assert fragment in problem.message


def test_strict_mode_raises_naming_file_and_line(make_files) -> None:
    root = make_files({"images/a.jpg": IMG, "labels/a.txt": "0 0.5 0.5 0.5 0.5\n0 0.5 0.5\n"})
    with pytest.raises(DatasetError) as raised:
        read_dataset(root, strict=True)
    assert f"{root / 'labels/a.txt'}:2: malformed line" in str(raised.value)
    assert raised.value.problem.line == 2


def test_auto_detected_even_with_a_stray_json(make_files) -> None:
    files = {"data.yaml": NAMES, "notes.json": "{}", "images/a.jpg": IMG, "labels/a.txt": "0 0.5 0.5 0.5 0.5\n"}
    root = make_files(files)
    dataset = read_dataset(root)
    assert dataset.layout == "yolo"
    assert len(dataset.records) == 1


def test_committed_fixture(fixture_datasets: Path) -> None:
    dataset = read_dataset(fixture_datasets / "yolo")
    assert (dataset.layout, dataset.problems) == ("yolo", [])
    boxes = {record.key: len(record.boxes) for record in dataset.records}
    # Keys keep the split folder, so train/a.jpg and val/a.jpg could not collide.
    assert boxes == {"train/a.jpg": 1, "train/b.jpg": 2, "train/c.jpg": 0, "val/d.jpg": 1}
    assert dataset.by_key()["train/b.jpg"].labels == (GUN_LABEL, "person")


def test_same_file_name_in_two_split_folders_keeps_two_keys(make_files) -> None:
    root = make_files({"images/train/a.jpg": IMG, "images/val/a.jpg": IMG})
    assert sorted(read_dataset(root, layout="yolo").by_key()) == ["train/a.jpg", "val/a.jpg"]


def test_folder_without_images_is_a_problem_when_forced(make_files) -> None:
    root = make_files({"a.jpg": IMG})
    [problem] = read_dataset(root, layout="yolo").problems
    assert (problem.path, problem.message) == (root, "no images/ folder here")
