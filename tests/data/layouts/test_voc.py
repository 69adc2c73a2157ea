"""The Pascal VOC reader: one XML annotation per image."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from gunwatch import GUN_LABEL
from gunwatch.data.layouts import read_dataset
from gunwatch.data.layouts.base import ReadOptions
from gunwatch.data.records import DatasetError

IMG = (64, 48)


def box_xml(name: str | None, xmin: str = "16", ymin: str = "12", xmax: str = "48", ymax: str = "36") -> str:
    name_xml = f"<name>{name}</name>" if name is not None else ""
    corners = "".join(
        f"<{k}>{v}</{k}>" for k, v in zip(("xmin", "ymin", "xmax", "ymax"), (xmin, ymin, xmax, ymax), strict=True)
    )
    return f"<object>{name_xml}<bndbox>{corners}</bndbox></object>"


def annotation_xml(
    *objects: str,
    filename: str = "a.jpg",
    size: str = "<size><width>64</width><height>48</height><depth>3</depth></size>",
) -> str:
    return f"<annotation>\n<filename>{filename}</filename>\n{size}\n" + "\n".join(objects) + "\n</annotation>\n"


def test_reads_boxes_as_absolute_xyxy_pixels(make_files) -> None:
    xml = annotation_xml(box_xml("pistol", "16.5", "12", "48", "36.25"), box_xml("person", "8", "0", "24", "24"))
    root = make_files({"Annotations/a.xml": xml, "JPEGImages/a.jpg": IMG})
    dataset = read_dataset(root, layout="voc")
    assert dataset.problems == []
    [record] = dataset.records
    assert (record.image_path, record.width, record.height) == (root / "JPEGImages/a.jpg", 64, 48)
    np.testing.assert_array_equal(record.boxes, [[16.5, 12, 48, 36.25], [8, 0, 24, 24]])
    assert record.labels == (GUN_LABEL, "person")


@pytest.mark.parametrize(
    ("xml_path", "image_path"),
    [
        ("Annotations/a.xml", "JPEGImages/a.jpg"),
        ("annotations/a.xml", "images/a.jpg"),
        ("a.xml", "a.jpg"),  # a flat folder
    ],
)
def test_folder_forms(make_files, xml_path: str, image_path: str) -> None:
    root = make_files({xml_path: annotation_xml(box_xml("pistol")), image_path: IMG})
    dataset = read_dataset(root)
    assert (dataset.layout, dataset.problems) == ("voc", [])
    assert [r.image_path for r in dataset.records] == [root / image_path]


def test_annotation_without_objects_is_a_gun_free_record(make_files) -> None:
    root = make_files({"Annotations/a.xml": annotation_xml(), "JPEGImages/a.jpg": IMG})
    [record] = read_dataset(root, layout="voc").records
    assert record.boxes.shape == (0, 4)
    assert not record.has_gun


@pytest.mark.parametrize(
    ("options", "expected"),
    [
        (ReadOptions(), (GUN_LABEL, GUN_LABEL, "person")),
        (ReadOptions(gun_classes=frozenset({"person"})), ("pistol", "Revolver", GUN_LABEL)),
    ],
)
def test_class_names_map_to_labels(make_files, options: ReadOptions, expected: tuple[str, ...]) -> None:
    xml = annotation_xml(box_xml("pistol"), box_xml("Revolver"), box_xml("person"))
    root = make_files({"Annotations/a.xml": xml, "JPEGImages/a.jpg": IMG})
    dataset = read_dataset(root, layout="voc", options=options)
    assert dataset.records[0].labels == expected


NO_SIZE = ""
BAD_SIZE = "<size><width>640</width><height>480</height></size>"


@pytest.mark.parametrize(
    ("xml", "line", "fragment"),
    [
        ("<annotation>\n<filename>a.jpg</filename>\n<size>\n</annotation>\n", 4, "XML does not parse (mismatched tag"),
        ("", 1, "XML does not parse (no element found"),
        ("<doc><filename>a.jpg</filename></doc>", None, "not a VOC annotation: the root element is <doc>"),
        (annotation_xml(filename=""), None, "missing <filename>"),
        (annotation_xml(size=NO_SIZE), None, "missing <size/width>"),
        (
            annotation_xml(size="<size><width>64</width><height>x</height></size>"),
            None,
            "<size/height> is not a number",
        ),
        (annotation_xml(size=BAD_SIZE), None, "annotation says the image is 640x480 but it is 64x48"),
        (annotation_xml(box_xml("pistol"), box_xml(None)), None, "object 2: missing <name>"),
        (annotation_xml(box_xml("pistol", xmax="")), None, "object 1: missing <bndbox/xmax>"),
        (annotation_xml(box_xml("pistol", ymin="twelve")), None, "object 1: <bndbox/ymin> is not a number: 'twelve'"),
        (annotation_xml(box_xml("pistol", xmax="70")), None, "object 1 (pistol): coordinates out of range"),
        (annotation_xml(box_xml("pistol", ymin="-3")), None, "object 1 (pistol): coordinates out of range"),
        (annotation_xml(box_xml("gun", xmin="48")), None, "object 1 (gun): zero-size box"),
        (annotation_xml(filename="missing.jpg"), None, "image 'missing.jpg' not found"),
    ],
)
def test_bad_annotation_is_a_problem(make_files, xml: str, line: int | None, fragment: str) -> None:
    root = make_files({"Annotations/a.xml": xml, "JPEGImages/a.jpg": IMG})
    dataset = read_dataset(root, layout="voc")
    assert dataset.records == []
    [problem] = dataset.problems
    assert (problem.path, problem.line) == (root / "Annotations/a.xml", line)
    assert fragment in problem.message


def test_image_that_does_not_decode_is_a_problem_on_the_image(make_files) -> None:
    root = make_files({"Annotations/a.xml": annotation_xml(), "JPEGImages/a.jpg": b"not a jpeg"})
    [problem] = read_dataset(root, layout="voc").problems
    assert (problem.path, problem.line) == (root / "JPEGImages/a.jpg", None)
    assert "image does not decode" in problem.message


def test_one_bad_file_leaves_the_others_readable(make_files) -> None:
    root = make_files(
        {
            "Annotations/a.xml": annotation_xml(box_xml("pistol")),
            "Annotations/b.xml": "<annotation>",
            "JPEGImages/a.jpg": IMG,
        }
    )
    dataset = read_dataset(root, layout="voc")
    assert [r.key for r in dataset.records] == ["a.jpg"]
    assert [p.path.name for p in dataset.problems] == ["b.xml"]


def test_strict_mode_raises_naming_file_and_line(make_files) -> None:
    root = make_files({"Annotations/a.xml": "<annotation>\n<filename>a.jpg\n</annotation>", "JPEGImages/a.jpg": IMG})
    with pytest.raises(DatasetError) as raised:
        read_dataset(root, strict=True)
    assert f"{root / 'Annotations/a.xml'}:3: XML does not parse" in str(raised.value)


def test_committed_fixture(fixture_datasets: Path) -> None:
    dataset = read_dataset(fixture_datasets / "voc")
    assert (dataset.layout, dataset.problems) == ("voc", [])
    boxes = {record.key: len(record.boxes) for record in dataset.records}
    assert boxes == {"a.jpg": 1, "b.jpg": 2, "c.jpg": 0, "d.jpg": 1}
    assert dataset.by_key()["b.jpg"].labels == (GUN_LABEL, "person")


def test_folder_without_xml_is_a_problem_when_forced(make_files) -> None:
    root = make_files({"a.jpg": IMG})
    [problem] = read_dataset(root, layout="voc").problems
    assert problem.path == root
    assert "no .xml annotations here" in problem.message
