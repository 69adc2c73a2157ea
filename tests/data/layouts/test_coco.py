"""The COCO reader: one JSON file of images, annotations and categories."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from gunwatch import GUN_LABEL
from gunwatch.data.layouts import read_dataset
from gunwatch.data.layouts.base import ReadOptions
from gunwatch.data.records import DatasetError

IMG = (64, 48)
CATEGORIES = [{"id": 0, "name": "objects"}, {"id": 1, "name": "pistol"}, {"id": 2, "name": "person"}]


def coco_json(
    annotations: list[dict[str, Any]] | None = None,
    images: list[dict[str, Any]] | None = None,
    categories: list[dict[str, Any]] | None = None,
) -> str:
    data = {
        "images": images if images is not None else [{"id": 1, "file_name": "a.jpg", "width": 64, "height": 48}],
        "annotations": annotations or [],
        "categories": categories if categories is not None else CATEGORIES,
    }
    return json.dumps(data, indent=1)


def annotation(bbox: Any = (16, 12, 32, 24), category_id: Any = 1, image_id: Any = 1, id: int = 7) -> dict[str, Any]:
    return {"id": id, "image_id": image_id, "category_id": category_id, "bbox": list(bbox) if bbox else bbox}


def test_reads_boxes_as_absolute_xyxy_pixels(make_files) -> None:
    anns = [annotation((16.5, 12, 31.5, 24)), annotation((8, 0, 16, 24), category_id=2, id=8)]
    root = make_files({"instances.json": coco_json(anns), "a.jpg": IMG})
    dataset = read_dataset(root / "instances.json", layout="coco")
    assert dataset.problems == []
    [record] = dataset.records
    assert (record.image_path, record.width, record.height) == (root / "a.jpg", 64, 48)
    np.testing.assert_array_equal(record.boxes, [[16.5, 12, 48, 36], [8, 0, 24, 24]])
    assert record.labels == (GUN_LABEL, "person")


@pytest.mark.parametrize(
    ("json_path", "image_path", "read_from"),
    [
        ("data.json", "a.jpg", "data.json"),  # the file itself
        ("_annotations.coco.json", "a.jpg", "."),  # Roboflow: one JSON beside the images
        ("export/labels.json", "export/images/a.jpg", "export/labels.json"),  # images/ beside the JSON
        ("annotations/instances_default.json", "images/a.jpg", "."),
        ("annotations/instances_val2017.json", "val2017/a.jpg", "."),  # COCO's own split folders
        ("annotations/gun.json", "a.jpg", "."),
    ],
)
def test_root_forms(make_files, json_path: str, image_path: str, read_from: str) -> None:
    root = make_files({json_path: coco_json([annotation()]), image_path: IMG})
    dataset = read_dataset(root / read_from)
    assert (dataset.layout, dataset.problems) == ("coco", [])
    assert [r.image_path for r in dataset.records] == [root / image_path]


def test_only_instances_files_are_read_from_annotations(make_files) -> None:
    root = make_files(
        {
            "annotations/instances_train.json": coco_json([annotation()]),
            "annotations/captions_train.json": json.dumps({"annotations": []}),
            "images/a.jpg": IMG,
        }
    )
    dataset = read_dataset(root, layout="coco")
    assert (len(dataset.records), dataset.problems) == (1, [])


def test_image_without_annotations_is_a_gun_free_record(make_files) -> None:
    images = [
        {"id": 1, "file_name": "a.jpg", "width": 64, "height": 48},
        {"id": 2, "file_name": "b.jpg", "width": 64, "height": 48},
    ]
    root = make_files({"data.json": coco_json([annotation()], images=images), "a.jpg": IMG, "b.jpg": IMG})
    records = read_dataset(root, layout="coco").by_key()
    assert (records["a.jpg"].has_gun, records["b.jpg"].has_gun) == (True, False)
    assert records["b.jpg"].boxes.shape == (0, 4)


@pytest.mark.parametrize(
    ("options", "expected"),
    [
        (ReadOptions(), (GUN_LABEL, "person")),
        (ReadOptions(gun_classes=frozenset({"2"})), ("pistol", GUN_LABEL)),
        (ReadOptions(gun_classes=frozenset({"person"})), ("pistol", GUN_LABEL)),
    ],
)
def test_category_names_map_to_labels(make_files, options: ReadOptions, expected: tuple[str, ...]) -> None:
    anns = [annotation(category_id=1), annotation(category_id=2, id=8)]
    root = make_files({"data.json": coco_json(anns), "a.jpg": IMG})
    assert read_dataset(root, layout="coco", options=options).records[0].labels == expected


@pytest.mark.parametrize(
    ("ann", "fragment"),
    [
        (annotation(bbox=(16, 12, 32)), "annotation 7: bbox must be [x, y, w, h] numbers, got [16, 12, 32]"),
        (annotation(bbox=(16, "12", 32, 24)), "bbox must be [x, y, w, h] numbers"),
        ({"id": 7, "image_id": 1, "category_id": 1}, "bbox must be [x, y, w, h] numbers, got None"),
        (annotation(bbox=(40, 12, 32, 24)), "annotation 7: coordinates out of range"),
        (annotation(bbox=(16, -5, 32, 24)), "coordinates out of range"),
        (annotation(bbox=(16, 12, 0, 24)), "annotation 7: zero-size box"),
        (annotation(category_id=9), "annotation 7: unknown category_id 9"),
        (annotation(category_id=[1]), "unknown category_id [1]"),
    ],
)
def test_bad_annotation_skips_its_image(make_files, ann: dict[str, Any], fragment: str) -> None:
    root = make_files({"data.json": coco_json([ann]), "a.jpg": IMG})
    dataset = read_dataset(root, layout="coco")
    assert dataset.records == []
    [problem] = dataset.problems
    assert (problem.path, problem.line) == (root / "data.json", None)
    assert "image 'a.jpg'" in problem.message
    assert fragment in problem.message


@pytest.mark.parametrize(
    ("text", "line", "fragment"),
    [
        ('{\n"images": [],\n"annotations": [,]\n}', 3, "JSON does not parse (Expecting value)"),
        ("[]", None, "not a COCO detection file: the top level is not an object"),
        (json.dumps({"annotations": [], "categories": []}), None, "no 'images' list"),
        (json.dumps({"images": [], "annotations": []}), None, "no 'categories' list"),
        (coco_json(images=[{"id": 1, "file_name": "a.jpg"}]), None, "images[0] needs an id, a file_name, a width"),
        (
            coco_json(images=[{"id": 1, "file_name": "a.jpg", "width": 64, "height": 48}] * 2),
            None,
            "images[1] repeats image id 1",
        ),
        (coco_json(categories=[{"id": 1}]), None, "categories[0] needs an id and a name"),
    ],
)
def test_bad_file_is_one_problem(make_files, text: str, line: int | None, fragment: str) -> None:
    root = make_files({"data.json": text, "a.jpg": IMG})
    dataset = read_dataset(root, layout="coco")
    assert dataset.records == []
    [problem] = dataset.problems
    assert (problem.path, problem.line) == (root / "data.json", line)
    assert fragment in problem.message


@pytest.mark.parametrize(
    ("files", "path", "fragment"),
    [
        ({"data.json": coco_json([annotation(image_id=5)])}, "data.json", "annotation 7: unknown image_id 5"),
        ({"data.json": coco_json([{"image_id": "x"}])}, "data.json", "annotations[0]: unknown image_id 'x'"),
    ],
)
def test_annotation_for_unknown_image_is_a_problem_of_its_own(
    make_files, files: dict[str, str], path: str, fragment: str
) -> None:
    root = make_files({**files, "a.jpg": IMG})
    dataset = read_dataset(root, layout="coco")
    assert [r.key for r in dataset.records] == ["a.jpg"]  # the image itself is still read
    [problem] = dataset.problems
    assert (problem.path, problem.line) == (root / path, None)
    assert fragment in problem.message


@pytest.mark.parametrize(
    ("image", "path", "fragment"),
    [
        (None, "data.json", "image 'a.jpg' not found"),
        (b"not a jpeg", "a.jpg", "image does not decode"),
        ((48, 64), "data.json", "image 'a.jpg': annotation says the image is 64x48 but it is 48x64"),
    ],
)
def test_image_file_problems(make_files, image: Any, path: str, fragment: str) -> None:
    files: dict[str, Any] = {"data.json": coco_json([annotation()])}
    if image is not None:
        files["a.jpg"] = image
    root = make_files(files)
    dataset = read_dataset(root, layout="coco")
    assert dataset.records == []
    [problem] = dataset.problems
    assert (problem.path, problem.line) == (root / path, None)
    assert fragment in problem.message


def test_folder_without_a_coco_json_is_a_problem_when_forced(make_files) -> None:
    root = make_files({"a.jpg": IMG, "one.json": "{}", "two.json": "{}"})
    [problem] = read_dataset(root, layout="coco").problems
    assert "no COCO JSON here" in problem.message


def test_strict_mode_raises_naming_file_and_line(make_files) -> None:
    root = make_files({"data.json": '{"images": [\n  {"id": 1,}\n]}', "a.jpg": IMG})
    with pytest.raises(DatasetError) as raised:
        read_dataset(root, strict=True)
    assert f"{root / 'data.json'}:2: JSON does not parse" in str(raised.value)


def test_committed_fixture(fixture_datasets: Path) -> None:
    dataset = read_dataset(fixture_datasets / "coco")
    assert (dataset.layout, dataset.problems) == ("coco", [])
    boxes = {record.key: len(record.boxes) for record in dataset.records}
    assert boxes == {"a.jpg": 1, "b.jpg": 2, "c.jpg": 0, "d.jpg": 1}
    assert dataset.by_key()["b.jpg"].labels == (GUN_LABEL, "person")


def test_committed_fixtures_agree_across_layouts(fixture_datasets: Path) -> None:
    """The three fixtures hold the same images and boxes, so every reader must give the same records."""
    # By file name: YOLO's keys carry the split folder (train/a.jpg).
    read = {
        name: {record.image_path.name: record for record in read_dataset(fixture_datasets / name).records}
        for name in ("coco", "voc", "yolo")
    }
    for key, record in read["coco"].items():
        for other in ("voc", "yolo"):
            twin = read[other][key]
            assert (twin.width, twin.height, twin.labels) == (record.width, record.height, record.labels)
            np.testing.assert_allclose(twin.boxes, record.boxes)
