"""The full PistolData_merged set (skipped where ../shared is absent): counts, and the committed split."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from typer.testing import CliRunner

from gunwatch.cli import app
from gunwatch.data.layouts import read_dataset
from gunwatch.data.split import load_split, make_split

SPLIT_FILE = Path(__file__).resolve().parents[2] / "splits" / "pistoldata_merged.json"


def test_data_check_counts_the_whole_set(pistol_data: Path) -> None:
    result = CliRunner().invoke(app, ["data", "check", str(pistol_data), "--json"])
    assert result.exit_code == 0, result.stderr
    summary = json.loads(result.stdout)
    assert (summary["images"], summary["with_guns"], summary["without_guns"]) == (3985, 2985, 1000)
    assert summary["boxes"] == 3447
    assert summary["small"] + summary["medium"] + summary["large"] == 3447
    assert summary["problems"] == []
    assert summary["by_origin"] == {"cctv": 319, "granada": 2985, "knife": 681}


def test_committed_split_is_what_the_seed_gives(pistol_data: Path) -> None:
    committed = load_split(SPLIT_FILE)
    remade = make_split(read_dataset(pistol_data).records, committed.fractions, committed.seed)
    assert remade.keys == committed.keys
    sizes = {name: len(keys) for name, keys in committed.keys.items()}
    assert sizes == {"train": 2790, "val": 598, "test": 597}


def write_as_yolo(records, root: Path) -> Path:
    (root / "images").mkdir(parents=True)
    (root / "labels").mkdir()
    (root / "data.yaml").write_text("names: [pistol]\n")
    for record in records:
        (root / "images" / record.key).symlink_to(record.image_path)
        lines = [
            f"0 {(x1 + x2) / 2 / record.width} {(y1 + y2) / 2 / record.height} "
            f"{(x2 - x1) / record.width} {(y2 - y1) / record.height}"
            for x1, y1, x2, y2 in record.boxes.tolist()
        ]
        (root / "labels" / f"{record.image_path.stem}.txt").write_text("\n".join(lines))
    return root


def write_as_coco(records, root: Path) -> Path:
    root.mkdir(parents=True)
    images, annotations = [], []
    for image_id, record in enumerate(records, start=1):
        (root / record.key).symlink_to(record.image_path)
        images.append({"id": image_id, "file_name": record.key, "width": record.width, "height": record.height})
        for x1, y1, x2, y2 in record.boxes.tolist():
            bbox = [x1, y1, x2 - x1, y2 - y1]
            annotations.append({"id": len(annotations) + 1, "image_id": image_id, "category_id": 7, "bbox": bbox})
    categories = [{"id": 7, "name": "handgun"}]
    payload = {"images": images, "annotations": annotations, "categories": categories}
    (root / "_annotations.coco.json").write_text(json.dumps(payload))
    return root


def test_the_same_images_read_back_from_yolo_and_coco_layouts(pistol_data: Path, tmp_path: Path) -> None:
    records = read_dataset(pistol_data).records[:300]
    for writer, layout in ((write_as_yolo, "yolo"), (write_as_coco, "coco")):
        root = writer(records, tmp_path / layout)
        result = CliRunner().invoke(app, ["data", "check", str(root), "--json"])
        assert result.exit_code == 0, result.stderr
        summary = json.loads(result.stdout)
        assert f"({layout} layout)" in result.stderr
        expected_boxes = sum(len(r.boxes) for r in records)
        assert (summary["images"], summary["boxes"], summary["problems"]) == (300, expected_boxes, [])
        again = read_dataset(root).by_key()
        for record in records:
            np.testing.assert_allclose(again[record.key].boxes, record.boxes, atol=1e-3)
