"""gunwatch data pack: a shrunk (or enlarged) copy of some splits whose boxes and split keys still line up."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from PIL import Image

from gunwatch.data.layouts import read_dataset
from gunwatch.data.pack import pack_records
from gunwatch.data.split import load_split


def write_set(root: Path) -> Path:
    (root / "pistol_images").mkdir(parents=True)
    (root / "pistol_annotations").mkdir()
    image = np.full((400, 800, 3), 120, np.uint8)
    image[100:300, 200:400] = 0  # the gun: 200 x 200 px at (200, 100)
    Image.fromarray(image).save(root / "pistol_images" / "1.jpg", quality=95)
    (root / "pistol_annotations" / "1.txt").write_text("1 0.375 0.5 0.25 0.5\n")
    Image.fromarray(np.full((100, 120, 3), 60, np.uint8)).save(root / "pistol_images" / "2.jpg")
    (root / "pistol_annotations" / "2.txt").write_text("0 0 0 0 0\n")
    (root / "manifest.jsonl").write_text('{"id": 1, "origin": "web"}\n{"id": 2, "origin": "cctv"}\n')
    return root


def test_packed_copy_keeps_boxes_origins_and_keys(tmp_path: Path) -> None:
    source = read_dataset(write_set(tmp_path / "full"))
    summary = pack_records(source.records, tmp_path / "packed", longest_side=200, quality=80)
    assert (summary.images, summary.guns) == (2, 1)

    packed = read_dataset(tmp_path / "packed").by_key()
    big, small = packed["1.jpg"], packed["2.jpg"]
    assert (big.width, big.height) == (200, 100)  # shrunk to the longest side
    assert (small.width, small.height) == (120, 100)  # never enlarged
    np.testing.assert_allclose(big.gun_boxes, [[50, 25, 100, 75]], atol=0.01)
    assert not small.has_gun
    assert (big.origin, small.origin) == ("web", "cctv")

    # The original split file selects the same images in the copy.
    split_file = tmp_path / "split.json"
    split_file.write_text(json.dumps({"train": ["1.jpg"], "val": ["2.jpg"]}))
    assert [r.key for r in load_split(split_file).select(read_dataset(tmp_path / "packed"), "val")] == ["2.jpg"]


def test_an_enlarged_copy_brings_every_image_to_the_side(tmp_path: Path) -> None:
    source = read_dataset(write_set(tmp_path / "full"))
    pack_records(source.records, tmp_path / "big", longest_side=1600, quality=90, enlarge=True)
    packed = read_dataset(tmp_path / "big").by_key()
    big, small = packed["1.jpg"], packed["2.jpg"]
    assert (big.width, big.height) == (1600, 800)
    assert (small.width, small.height) == (1600, 1333)
    np.testing.assert_allclose(big.gun_boxes, [[400, 200, 800, 600]], atol=0.1)
