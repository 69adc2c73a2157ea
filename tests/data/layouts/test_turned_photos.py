"""Photos with an EXIF orientation (a phone held upright) in every layout: records describe the picture as shown.

A normalised box (YOLO, the notebook's layout) is on the picture as shown. An absolute one (VOC, COCO) is too when
the annotation states the shown size; when it states the stored size of a photo the tag turns sideways, the tool
drew on the stored pixels, and the box is turned with them. Either way it lands on the same pixels of `load_rgb`.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from gunwatch.data.images import load_rgb
from gunwatch.data.layouts import read_dataset
from support.turned_photos import picture_with_square, white_box, write_turned

SHOWN_BOX = (6, 40, 22, 52)  # in the portrait picture as shown, 48 x 64
SHOWN = picture_with_square(48, 64, SHOWN_BOX)


def turned_photo(path: Path) -> list[float]:
    """A portrait photo stored landscape (64 x 48) with orientation 6; the square's box on the stored pixels."""
    path.parent.mkdir(parents=True, exist_ok=True)
    write_turned(path, SHOWN, 6)
    with Image.open(path) as stored:
        assert stored.size == (64, 48)
        return white_box(np.asarray(stored.convert("RGB")))


def assert_on_the_square(record) -> None:
    assert (record.width, record.height, record.orientation) == (48, 64, 6)
    [box] = record.boxes.tolist()
    assert box == list(SHOWN_BOX)
    assert white_box(load_rgb(record.image_path)) == list(SHOWN_BOX)


def test_yolo_boxes_are_on_the_picture_as_shown(tmp_path: Path) -> None:
    turned_photo(tmp_path / "images/a.png")
    x1, y1, x2, y2 = SHOWN_BOX
    label = f"0 {(x1 + x2) / 2 / 48} {(y1 + y2) / 2 / 64} {(x2 - x1) / 48} {(y2 - y1) / 64}\n"
    (tmp_path / "labels").mkdir()
    (tmp_path / "labels/a.txt").write_text(label)
    dataset = read_dataset(tmp_path, layout="yolo")
    assert dataset.problems == []
    assert_on_the_square(dataset.records[0])


def voc(size: tuple[int, int], box: list[float]) -> str:
    corners = "".join(f"<{k}>{v:g}</{k}>" for k, v in zip(("xmin", "ymin", "xmax", "ymax"), box, strict=True))
    return (f"<annotation><filename>a.png</filename><size><width>{size[0]}</width><height>{size[1]}</height>"
            f"</size><object><name>pistol</name><bndbox>{corners}</bndbox></object></annotation>")


@pytest.mark.parametrize("drawn_on", ["shown", "stored"])
def test_voc_boxes_drawn_on_either_picture_land_on_the_gun(tmp_path: Path, drawn_on: str) -> None:
    stored_box = turned_photo(tmp_path / "JPEGImages/a.png")
    (tmp_path / "Annotations").mkdir()
    xml = voc((48, 64), list(SHOWN_BOX)) if drawn_on == "shown" else voc((64, 48), stored_box)
    (tmp_path / "Annotations/a.xml").write_text(xml)
    dataset = read_dataset(tmp_path, layout="voc")
    assert dataset.problems == []
    assert_on_the_square(dataset.records[0])


def test_voc_stating_neither_size_is_a_problem_naming_the_orientation(tmp_path: Path) -> None:
    turned_photo(tmp_path / "JPEGImages/a.png")
    (tmp_path / "Annotations").mkdir()
    (tmp_path / "Annotations/a.xml").write_text(voc((50, 50), [1, 1, 5, 5]))
    dataset = read_dataset(tmp_path, layout="voc")
    [problem] = dataset.problems
    assert problem.path == tmp_path / "Annotations/a.xml"
    assert "50x50 but it is 48x64 as shown (EXIF orientation 6; stored 64x48)" in problem.message


@pytest.mark.parametrize("drawn_on", ["shown", "stored"])
def test_coco_boxes_drawn_on_either_picture_land_on_the_gun(tmp_path: Path, drawn_on: str) -> None:
    stored_box = turned_photo(tmp_path / "a.png")
    size, (x1, y1, x2, y2) = ((48, 64), SHOWN_BOX) if drawn_on == "shown" else ((64, 48), stored_box)
    data = {"images": [{"id": 1, "file_name": "a.png", "width": size[0], "height": size[1]}],
            "annotations": [{"id": 1, "image_id": 1, "category_id": 1, "bbox": [x1, y1, x2 - x1, y2 - y1]}],
            "categories": [{"id": 1, "name": "pistol"}]}
    (tmp_path / "data.json").write_text(json.dumps(data))
    dataset = read_dataset(tmp_path / "data.json", layout="coco")
    assert dataset.problems == []
    assert_on_the_square(dataset.records[0])


def test_data_check_counts_the_turned_photos_and_says_how_their_boxes_are_read(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from gunwatch.cli import app

    turned_photo(tmp_path / "images/a.png")
    Image.fromarray(SHOWN).save(tmp_path / "images/b.png")  # upright, no tag
    (tmp_path / "labels").mkdir()
    (tmp_path / "labels/a.txt").write_text("0 0.5 0.5 0.2 0.2\n")
    result = CliRunner().invoke(app, ["data", "check", str(tmp_path), "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["turned_by_exif"] == 1
    assert "turned by EXIF tag" in result.stderr and "labels from a tool that ignored the tag" in result.stderr
