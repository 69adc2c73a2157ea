"""The generated 1080p small-gun set: exact boxes of the asked width, gun-free scenes, readable, reproducible."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

from gunwatch import GUN_LABEL
from gunwatch.data.layouts import read_dataset
from gunwatch.data.records import ImageRecord
from gunwatch.evaluation.small_guns import FRAME_SIZE, SmallGunSettings, build_small_gun_set, cut_gun, paste_gun

MARK = (255, 0, 0)


def source_records(folder: Path) -> list[ImageRecord]:
    """Two gun images (a pure-red gun on grey) and two gun-free scenes."""
    folder.mkdir()
    records = []
    for index, (size, box) in enumerate([((400, 300), (100, 120, 260, 200)), ((640, 480), (300, 50, 420, 140))]):
        pixels = np.full((size[1], size[0], 3), 128, np.uint8)
        x1, y1, x2, y2 = box
        pixels[y1:y2, x1:x2] = MARK
        Image.fromarray(pixels).save(folder / f"gun{index}.png")
        records.append(ImageRecord(folder / f"gun{index}.png", *size, np.array([box], np.float32), (GUN_LABEL,)))
    for index, size in enumerate([(320, 240), (800, 600)]):
        Image.fromarray(np.full((size[1], size[0], 3), 60 + 40 * index, np.uint8)).save(folder / f"scene{index}.png")
        records.append(ImageRecord(folder / f"scene{index}.png", *size))
    return records


def test_pasted_box_is_exactly_the_gun() -> None:
    image = np.full((300, 400, 3), 128, np.uint8)
    image[120:200, 100:260] = MARK
    patch, gun_box = cut_gun(image, np.array([100, 120, 260, 200], np.float32))
    frame = np.zeros((1080, 1920, 3), np.uint8)
    box = paste_gun(frame, patch, gun_box, 32.0, np.random.default_rng(0))
    assert abs(box[2] - box[0] - 32.0) < 0.5
    red = (frame[..., 0] > 200) & (frame[..., 1] < 60)
    ys, xs = np.nonzero(red)
    np.testing.assert_allclose(box, [xs.min(), ys.min(), xs.max() + 1, ys.max() + 1], atol=1.0)


def test_the_set_is_1080p_with_small_exact_boxes_and_reproducible(tmp_path: Path) -> None:
    records = source_records(tmp_path / "source")
    settings = SmallGunSettings(frames_with_guns=4, frames_without=3, seed=1)
    first = build_small_gun_set(records, tmp_path / "a", settings)
    again = build_small_gun_set(records, tmp_path / "b", settings)

    dataset = read_dataset(first)
    assert not dataset.problems
    assert len(dataset.records) == 7
    with_guns = [r for r in dataset.records if r.has_gun]
    assert len(with_guns) == 4
    for record in dataset.records:
        assert (record.width, record.height) == FRAME_SIZE
        for box in record.gun_boxes:
            assert 0.0095 * FRAME_SIZE[0] <= box[2] - box[0] <= 0.0205 * FRAME_SIZE[0]
            pixels = np.asarray(Image.open(record.image_path).convert("RGB"))
            x1, y1, x2, y2 = (round(float(v)) for v in box)
            inside = pixels[y1 + 2 : y2 - 2, x1 + 2 : x2 - 2]
            assert inside[..., 0].mean() > 180 and inside[..., 1].mean() < 90  # the box holds the red gun
    assert {r.origin for r in dataset.records} == {"small-guns", "scene"}
    for name in ("pistol_annotations/1.txt", "manifest.jsonl"):
        assert (first / name).read_text() == (again / name).read_text()
