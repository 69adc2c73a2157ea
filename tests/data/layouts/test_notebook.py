"""The notebook reader: pistol_images/N.jpg + pistol_annotations/N.txt (+ an optional manifest.jsonl)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from gunwatch import GUN_LABEL
from gunwatch.data.layouts import detect_layout, read_dataset
from gunwatch.data.records import DatasetError

IMG = (64, 48)
IMAGES = "pistol_images"
LABELS = "pistol_annotations"
GOOD = "1 0.5 0.5 0.5 0.5\n"


@pytest.mark.parametrize(
    ("label_text", "line", "fragment"),
    [
        pytest.param("1 0.5 abc 0.5 0.5\n", 1, "malformed line '1 0.5 abc 0.5 0.5'", id="not-a-number"),
        pytest.param(GOOD + "1 0.5 0.5 0.5\n", 2, "expected 'class xc yc w h'", id="four-fields"),
        pytest.param("1 0.5 0.5 0.5 0.5 0.9\n", 1, "expected 'class xc yc w h'", id="six-fields"),
        pytest.param("\n\ngun 0.5 0.5 0.5 0.5\n", 3, "malformed line 'gun 0.5 0.5 0.5 0.5'", id="blank-lines-count"),
        pytest.param("0 0.5 0.5 0.5 0.5\n", 1, "class 0 must be '0 0 0 0 0'", id="class0-with-coords"),
        pytest.param("0 0 0 0 0.1\n", 1, "class 0 must be '0 0 0 0 0'", id="class0-one-coord"),
        pytest.param("2 0.5 0.5 0.2 0.2\n", 1, "unknown class '2'", id="unknown-class"),
        pytest.param("1.5 0.5 0.5 0.2 0.2\n", 1, "unknown class '1.5'", id="fractional-class"),
        pytest.param("1 1.3 0.5 0.2 0.2\n", 1, "coordinates out of range", id="x-out-of-range"),
        pytest.param("1 0.5 0.5 0.5 1.5\n", 1, "coordinates out of range", id="h-out-of-range"),
        pytest.param("1 0.5 0.5 0 0.2\n", 1, "zero-size box", id="zero-width"),
        pytest.param("1 0.5 0.5 0.2 -0.2\n", 1, "zero-size box", id="negative-height"),
        pytest.param("1 0.5 0.5 nan 0.2\n", 1, "non-finite", id="nan"),
        pytest.param(GOOD + "0 0 0 0 0\n", None, "file mixes '0 0 0 0 0' with gun boxes", id="mixed"),
    ],
)
def test_bad_annotation_skips_the_image_with_file_and_line(
    make_files, label_text: str, line: int | None, fragment: str
) -> None:
    root = make_files(
        {f"{IMAGES}/1.jpg": IMG, f"{LABELS}/1.txt": label_text, f"{IMAGES}/2.jpg": IMG, f"{LABELS}/2.txt": GOOD}
    )
    dataset = read_dataset(root, layout="notebook")
    assert [record.key for record in dataset.records] == ["2.jpg"]
    [problem] = dataset.problems
    assert (problem.path, problem.line) == (root / LABELS / "1.txt", line)
    assert fragment in problem.message


@pytest.mark.parametrize(
    ("files", "path", "fragment"),
    [
        pytest.param({f"{LABELS}/2.txt": GOOD}, f"{LABELS}/2.txt", "label without image", id="label-without-image"),
        pytest.param({f"{IMAGES}/2.jpg": IMG}, f"{IMAGES}/2.jpg", "image without annotation file", id="no-annotation"),
        pytest.param(
            {f"{IMAGES}/2.jpg": b"not a jpeg", f"{LABELS}/2.txt": GOOD},
            f"{IMAGES}/2.jpg",
            "image does not decode",
            id="image-does-not-decode",
        ),
    ],
)
def test_file_problems_leave_the_other_images_readable(make_files, files: dict, path: str, fragment: str) -> None:
    root = make_files({f"{IMAGES}/1.jpg": IMG, f"{LABELS}/1.txt": GOOD, **files})
    dataset = read_dataset(root, layout="notebook")
    assert [record.key for record in dataset.records] == ["1.jpg"]
    [problem] = dataset.problems
    assert (problem.path, problem.line) == (root / path, None)
    assert fragment in problem.message


@pytest.mark.parametrize(
    ("manifest", "line"),
    [
        pytest.param('{"id": 1, "origin": "web"}\n{"id": 2, "origin": cctv}\n', 2, id="not-json"),
        pytest.param('{"id": 1, "origin": "web"}\n\n{"id": 2}\n', 3, id="no-origin"),
        pytest.param('{"id": 1, "origin": "web"}\n[2, "cctv"]\n', 2, id="not-an-object"),
    ],
)
def test_bad_manifest_line_is_a_problem_with_its_line_and_images_are_still_read(
    make_files, manifest: str, line: int
) -> None:
    root = make_files(
        {
            "manifest.jsonl": manifest,
            f"{IMAGES}/1.jpg": IMG,
            f"{LABELS}/1.txt": GOOD,
            f"{IMAGES}/2.jpg": IMG,
            f"{LABELS}/2.txt": GOOD,
        }
    )
    dataset = read_dataset(root, layout="notebook")
    assert [(record.key, record.origin) for record in dataset.records] == [("1.jpg", "web"), ("2.jpg", None)]
    [problem] = dataset.problems
    assert (problem.path, problem.line) == (root / "manifest.jsonl", line)
    assert "manifest line is not an object with id and origin" in problem.message


def test_reads_boxes_as_absolute_xyxy_pixels_in_numeric_order(make_files) -> None:
    root = make_files(
        {
            "manifest.jsonl": '{"id": 2, "origin": "web"}\n{"id": "10", "origin": "cctv"}\n',
            f"{IMAGES}/2.jpg": IMG,
            f"{LABELS}/2.txt": "1 0.5 0.5 0.5 0.5\n1 0.25 0.25 0.25 0.5\n",
            f"{IMAGES}/10.jpg": (48, 64),
            f"{LABELS}/10.txt": "0 0 0 0 0\n",
            f"{IMAGES}/3.jpg": IMG,
            f"{LABELS}/3.txt": "",  # an empty annotation file: no gun
            f"{IMAGES}/4.jpg": (48, 64),
            # 1.02 * 48 px wide: 0.48 px past each side, inside the one-pixel tolerance, so clipped.
            f"{LABELS}/4.txt": "1 0.5 0.5 1.02 0.25\n",
        }
    )
    dataset = read_dataset(root)
    assert (dataset.layout, dataset.problems) == ("notebook", [])
    assert [record.key for record in dataset.records] == ["2.jpg", "3.jpg", "4.jpg", "10.jpg"]
    by_key = dataset.by_key()

    two = by_key["2.jpg"]
    assert (two.image_path, two.width, two.height, two.origin) == (root / IMAGES / "2.jpg", 64, 48, "web")
    np.testing.assert_array_equal(two.boxes, [[16, 12, 48, 36], [8, 0, 24, 24]])
    assert two.labels == (GUN_LABEL, GUN_LABEL)

    ten = by_key["10.jpg"]
    assert (ten.width, ten.height, ten.origin, ten.labels, ten.boxes.shape) == (48, 64, "cctv", (), (0, 4))
    assert not ten.has_gun

    three = by_key["3.jpg"]
    assert (three.origin, three.labels, three.has_gun) == (None, (), False)

    np.testing.assert_allclose(by_key["4.jpg"].boxes, [[0, 24, 48, 40]])


def test_strict_mode_raises_naming_file_and_line(make_files) -> None:
    root = make_files({f"{IMAGES}/1.jpg": IMG, f"{LABELS}/1.txt": GOOD + "1 0.5 0.5\n"})
    with pytest.raises(DatasetError) as raised:
        read_dataset(root, strict=True)
    assert f"{root / LABELS / '1.txt'}:2: malformed line '1 0.5 0.5'" in str(raised.value)
    assert raised.value.problem.line == 2


def test_not_detected_without_both_folders(make_files) -> None:
    root = make_files({f"{IMAGES}/1.jpg": IMG, "labels/1.txt": GOOD})
    with pytest.raises(DatasetError, match="no known data set layout"):
        detect_layout(root)


# The notebook fixture holds the yolo fixture's images under numeric names.
NOTEBOOK_TO_YOLO = {"1.jpg": "train/a.jpg", "2.jpg": "train/b.jpg", "3.jpg": "train/c.jpg", "4.jpg": "val/d.jpg"}


def test_committed_fixture_describes_the_same_images_as_the_yolo_fixture(fixture_datasets: Path) -> None:
    notebook = read_dataset(fixture_datasets / "notebook")
    yolo = read_dataset(fixture_datasets / "yolo").by_key()
    assert (notebook.layout, notebook.problems) == ("notebook", [])
    assert [record.key for record in notebook.records] == list(NOTEBOOK_TO_YOLO)
    assert {record.key: record.origin for record in notebook.records} == {
        "1.jpg": "web",
        "2.jpg": "web",
        "3.jpg": "cctv",
        "4.jpg": "cctv",
    }
    for record in notebook.records:
        twin = yolo[NOTEBOOK_TO_YOLO[record.key]]
        assert record.image_path.read_bytes() == twin.image_path.read_bytes()
        assert (record.width, record.height) == (twin.width, twin.height)
        # The notebook layout has guns only: the yolo fixture's person box has no counterpart.
        np.testing.assert_array_equal(record.boxes, twin.gun_boxes)
        assert record.labels == (GUN_LABEL,) * len(twin.gun_boxes)
    np.testing.assert_array_equal(notebook.by_key()["4.jpg"].boxes, [[12, 16, 36, 48]])


@pytest.mark.parametrize("path", [f"{LABELS}/2.txt", "manifest.jsonl"])
def test_file_that_is_not_text_is_a_problem(make_files, path: str) -> None:
    files = {f"{IMAGES}/1.jpg": IMG, f"{LABELS}/1.txt": GOOD, f"{IMAGES}/2.jpg": IMG, f"{LABELS}/2.txt": GOOD}
    root = make_files({**files, path: b"\xff\xfe\xfa"})
    dataset = read_dataset(root, layout="notebook")
    [problem] = dataset.problems
    assert (problem.path, problem.line) == (root / path, None)
    assert "not text" in problem.message
