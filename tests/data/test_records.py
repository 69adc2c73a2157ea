"""ImageRecord and Dataset: validation, keys, gun boxes."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest

from gunwatch import GUN_LABEL
from gunwatch.data.records import Dataset, DatasetError, ImageRecord


def test_key_defaults_to_the_file_name_and_can_be_given() -> None:
    assert ImageRecord(Path("x/y/a.jpg"), 10, 10).key == "a.jpg"
    assert ImageRecord(Path("x/train/a.jpg"), 10, 10, key="train/a.jpg").key == "train/a.jpg"


def test_gun_boxes_keep_only_guns() -> None:
    record = ImageRecord(Path("a.jpg"), 10, 10, [[0, 0, 1, 1], [2, 2, 3, 3]], (GUN_LABEL, "person"))
    np.testing.assert_array_equal(record.gun_boxes, [[0, 0, 1, 1]])
    assert record.has_gun
    assert not ImageRecord(Path("b.jpg"), 10, 10, [[2, 2, 3, 3]], ("person",)).has_gun


def test_boxes_and_labels_must_pair_up() -> None:
    with pytest.raises(ValueError, match=re.escape("a.jpg: 1 boxes but 0 labels")):
        ImageRecord(Path("a.jpg"), 10, 10, [[0, 0, 1, 1]], ())


def test_two_images_with_one_key_are_an_error_naming_the_image() -> None:
    records = [ImageRecord(Path("x/a.jpg"), 10, 10), ImageRecord(Path("y/a.jpg"), 10, 10)]
    with pytest.raises(DatasetError, match=re.escape("y/a.jpg: two images share the key 'a.jpg'")):
        Dataset(Path("."), "voc", records, []).by_key()
