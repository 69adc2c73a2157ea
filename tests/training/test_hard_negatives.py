"""Hard negatives: mined by the model's own scores on gun-free images, then drawn more often per epoch."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from gunwatch.data.records import ImageRecord
from gunwatch.inference.detections import Detections
from gunwatch.training.batches import plan_epoch
from gunwatch.training.hard_negatives import MinedNegatives, mine_hard_negatives, repeats_per_sample


class BrightnessScorer:
    """A stand-in model whose gun score is an image's mean brightness: brighter looks more like a gun."""

    name = "brightness"
    class_names = ("person", "handgun")
    threshold = 0.5

    def detect(self, images: list[np.ndarray]) -> list[Detections]:
        return [Detections(np.array([[0, 0, 4, 4]]), np.array([image.mean() / 255]), np.array([1])) for image in images]


def record(folder: Path, name: str, grey: int, gun: bool = False) -> ImageRecord:
    path = folder / name
    Image.fromarray(np.full((8, 8, 3), grey, np.uint8)).save(path)
    boxes, labels = ([[1, 1, 5, 5]], ("handgun",)) if gun else (np.zeros((0, 4)), ())
    return ImageRecord(path, 8, 8, np.asarray(boxes, np.float32), labels)


def test_mining_scores_only_the_gun_free_images_hardest_first(tmp_path: Path) -> None:
    records = [record(tmp_path, "a.png", 51), record(tmp_path, "b.png", 204), record(tmp_path, "gun.png", 255, True),
               record(tmp_path, "c.png", 102)]
    model = tmp_path / "model.onnx"
    model.write_bytes(b"weights")
    mined = mine_hard_negatives(BrightnessScorer(), model, records, progress=False)
    assert list(mined.scores) == ["b.png", "c.png", "a.png"]
    assert mined.scores["b.png"] == pytest.approx(0.8)
    assert mined.hardest(0.34) == ["b.png", "c.png"]  # a share rounds up: never none of them
    assert mined.hardest(0.0) == []
    mined.save(tmp_path / "hard.json")
    assert MinedNegatives.load(tmp_path / "hard.json") == mined


def test_a_file_that_is_not_a_mined_list_names_itself(tmp_path: Path) -> None:
    path = tmp_path / "wrong.json"
    path.write_text('{"boxes": []}')
    with pytest.raises(ValueError, match=r"wrong\.json: not a hard-negative file"):
        MinedNegatives.load(path)


def test_hard_negatives_are_drawn_repeats_times_an_epoch() -> None:
    repeats = repeats_per_sample(["a", "b", "c", "d"], {"b", "d"}, 3)
    assert repeats == [1, 3, 1, 3]
    plans = plan_epoch(4, 3, [64], seed=0, epoch=1, use_mosaic=False, repeats=repeats)
    drawn = Counter(i for plan in plans for i in plan.indices)
    assert drawn == {0: 1, 1: 3, 2: 1, 3: 3}
    assert [len(plan.indices) for plan in plans] == [3, 3, 2]  # the batch size holds: more draws, more batches
    assert plan_epoch(4, 3, [64], 0, 1, False, repeats=[1, 1, 1, 1]) == plan_epoch(4, 3, [64], 0, 1, False)
