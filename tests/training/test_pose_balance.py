"""Guns not in profile drawn more often: which images count, and how the epoch's repeats combine."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import numpy as np
import pytest

from gunwatch.data.records import ImageRecord
from gunwatch.training.batches import plan_epoch
from gunwatch.training.config import DetectorTrainConfig
from gunwatch.training.detector_train import sample_repeats
from gunwatch.training.hard_negatives import MinedNegatives
from gunwatch.training.pose_balance import gun_aspects, holds_unprofiled_gun, pose_repeats_per_sample

PROFILE = (1.15, 2.0)


def image(name: str, *boxes: list[float], labels: tuple[str, ...] | None = None) -> ImageRecord:
    return ImageRecord(Path(name), 640, 480, np.array(boxes, np.float32).reshape(-1, 4),
                       labels if labels is not None else ("handgun",) * len(boxes))


def test_a_guns_aspect_is_its_box_width_over_height() -> None:
    assert gun_aspects(image("a.jpg", [10, 10, 70, 50], [0, 0, 30, 60])) == pytest.approx([1.5, 0.5])


@pytest.mark.parametrize(("box", "unprofiled"), [
    ([0, 0, 60, 40], False),   # 1.5: side on
    ([0, 0, 46, 40], False),   # 1.15: the profile range's low end is in it
    ([0, 0, 45, 40], True),    # 1.125: aimed at the camera, or upright
    ([0, 0, 40, 40], True),    # square: the muzzle seen end on
    ([0, 0, 80, 40], True),    # 2.0: the high end is out (a long gun-like box, foreshortened the other way)
])
def test_an_image_counts_when_any_gun_is_out_of_profile(box: list[float], unprofiled: bool) -> None:
    assert holds_unprofiled_gun(image("a.jpg", box), PROFILE) is unprofiled
    # A second gun in profile does not hide the first.
    assert holds_unprofiled_gun(image("b.jpg", box, [100, 100, 160, 140]), PROFILE) is unprofiled


def test_people_and_gun_free_images_are_never_repeated() -> None:
    person = image("person.jpg", [0, 0, 40, 120], labels=("person",))  # tall, but not a gun
    assert pose_repeats_per_sample([person, image("none.jpg")], PROFILE, 3) == [1, 1]


def test_the_epoch_draws_each_unprofiled_image_repeats_times() -> None:
    records = [image("side.jpg", [0, 0, 60, 40]), image("aimed.jpg", [0, 0, 40, 40]), image("empty.jpg")]
    repeats = pose_repeats_per_sample(records, PROFILE, 3)
    assert repeats == [1, 3, 1]
    batches = plan_epoch(len(records), 2, [416], seed=0, epoch=1, use_mosaic=False, repeats=repeats)
    assert Counter(int(i) for batch in batches for i in batch.indices) == {0: 1, 1: 3, 2: 1}


def test_hard_negatives_and_poses_combine_in_one_epoch(tmp_path: Path) -> None:
    records = [image("side.jpg", [0, 0, 60, 40]), image("aimed.jpg", [0, 0, 40, 40]), image("knife.jpg"),
               image("phone.jpg")]
    mined = tmp_path / "mined.json"
    MinedNegatives("m.onnx", "0" * 64, {"knife.jpg": 0.9, "phone.jpg": 0.1}).save(mined)
    config = DetectorTrainConfig(data=tmp_path, split=tmp_path / "split.json", coco_weights=None,
                                 hard_negatives=mined, hard_negative_share=0.5, hard_negative_repeats=4,
                                 pose_repeats=2)
    assert sample_repeats(config, records) == [1, 2, 4, 1]
    assert sample_repeats(config.model_copy(update={"pose_repeats": 1, "hard_negatives": None}), records) is None


@pytest.mark.parametrize("aspects", [(0.0, 2.0), (2.0, 1.15)])
def test_a_config_refuses_a_profile_range_that_is_not_a_positive_range(tmp_path: Path,
                                                                     aspects: tuple[float, float]) -> None:
    with pytest.raises(ValueError, match="profile_aspect"):
        DetectorTrainConfig(data=tmp_path, split=tmp_path / "s.json", profile_aspect=aspects)
