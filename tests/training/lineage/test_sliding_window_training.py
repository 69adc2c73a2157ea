"""The sliding-window detector: training windows, a short real run end to end through ONNX, resume."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from gunwatch.boxes import box_iou
from gunwatch.evaluation.evaluate import evaluate
from gunwatch.inference.loading import load_detector
from gunwatch.training.lineage.sliding_window.config import SlidingWindowTrainConfig
from gunwatch.training.lineage.sliding_window.windows import (
    gun_squares,
    negative_windows,
    place,
    positive_windows,
)
from gunwatch.training.pipeline import train_from_config

pytest.importorskip("torch")

CONFIG = SlidingWindowTrainConfig(data=Path("d"), split=Path("s"), min_gun_px=16)


def test_a_guns_square_is_its_longer_side_around_its_centre_clipped_to_the_image() -> None:
    squares = gun_squares(np.array([[10, 20, 50, 40], [0, 0, 20, 60]]), 100, 50)
    np.testing.assert_allclose(squares, [[10, 10, 50, 50], [0, 0, 40, 50]])


def test_a_window_is_placed_inside_the_image_and_never_larger_than_its_shorter_side() -> None:
    np.testing.assert_allclose(place(5, 5, 20, 100, 50), [0, 0, 20, 20])
    np.testing.assert_allclose(place(95, 40, 20, 100, 50), [80, 30, 100, 50])
    np.testing.assert_allclose(place(50, 25, 80, 100, 50), [25, 0, 75, 50])


def test_positives_fit_their_gun_and_negatives_avoid_every_gun() -> None:
    rng = np.random.default_rng(0)
    guns = np.array([[40.0, 40, 80, 70], [150, 100, 170, 130]])
    squares = gun_squares(guns, 200, 160)
    pairs = positive_windows(guns, 200, 160, 5, CONFIG, rng)
    assert len(pairs) == 10
    for window, gun in pairs:
        assert window[2] - window[0] == pytest.approx(window[3] - window[1])
        match = int(np.argmax(box_iou(gun[None], guns)[0]))
        assert box_iou(window[None], squares[match][None])[0, 0] >= CONFIG.positive_iou
    negatives = negative_windows(guns, 200, 160, 30, CONFIG, rng)
    assert len(negatives) == 30
    windows = np.array(negatives)
    assert box_iou(windows, squares).max() < CONFIG.negative_iou
    assert (windows[:, :2] >= 0).all() and (windows[:, 2] <= 200).all() and (windows[:, 3] <= 160).all()
    sides = windows[:, 2] - windows[:, 0]
    assert sides.min() >= 16 and sides.max() <= 160


def write_run(tmp_path: Path, epochs: int, synthetic_set) -> tuple[Path, Path, Path]:
    data = synthetic_set(tmp_path / "data", guns=6, negatives=2)
    keys = sorted(p.name for p in (data / "pistol_images").iterdir())
    # Train, choose the threshold and measure on the same images: this checks that it learns, not that it generalises.
    split = tmp_path / "split.json"
    split.write_text(json.dumps({"train": keys, "val": keys, "test": keys}))
    config = tmp_path / "train.yaml"
    # 4 blocks + a 2 x 2 dense layer: 23-px windows, 4 px apart, for 64-px images with 16..32-px guns.
    config.write_text(
        f"model: sliding-window\ndata: {data}\nsplit: {split}\nout: {tmp_path / 'run'}\nwidth_mult: 0.35\n"
        "trunk_blocks: 4\nhead_kernel: 2\nhidden: 32\ndropout: 0\nfreeze_blocks: 0\nmin_gun_px: 16\n"
        f"pretrained: none\nepochs: {epochs}\nbatch_size: 32\nlr: 0.01\npositives_per_gun: 6\n"
        "negatives_per_gun_image: 6\nnegatives_per_gunfree_image: 8\nhflip: 0\ngrayscale: 0\n"
        "brightness_contrast: 0\nmax_val_image_fpr: 0.0\nthreads: 1\nnms_iou: 0.3\n"
    )
    return data, split, config


@pytest.mark.slow
def test_a_short_run_learns_the_fixture_images(tmp_path: Path, synthetic_set) -> None:
    data, split, config = write_run(tmp_path, 30, synthetic_set)
    model_path = train_from_config(config, resume=False, overrides={})

    history = json.loads((tmp_path / "run" / "history.json").read_text())
    assert history[-1]["train_loss"] < history[0]["train_loss"] / 3
    for artefact in ("best.pt", "last.pt", "curves.png", "model.onnx", "history.json"):
        assert (tmp_path / "run" / artefact).is_file(), artefact
    assert any((tmp_path / "run" / "tensorboard").iterdir())

    detector = load_detector(model_path, threads=1)
    assert detector.windows_per_image(64, 64) > 100
    report = evaluate(detector, data, "test", split, progress=False).report
    assert report.map50 >= 0.8
    assert report.image_recall == 1.0
    assert report.image_fpr == 0.0  # the threshold was chosen on these images for 0 % flagged


def test_resume_continues_from_the_last_checkpoint(tmp_path: Path, synthetic_set) -> None:
    _, _, config = write_run(tmp_path, 1, synthetic_set)
    train_from_config(config, resume=False, overrides={"max_steps_per_epoch": 2})
    train_from_config(config, resume=True, overrides={"epochs": 2, "max_steps_per_epoch": 2})
    history = json.loads((tmp_path / "run" / "history.json").read_text())
    assert [h["epoch"] for h in history] == [1, 2]


def test_the_exported_epoch_is_the_one_of_best_val_detection_map(tmp_path: Path, synthetic_set) -> None:
    from gunwatch.training.checkpoints import load_checkpoint

    _, _, config = write_run(tmp_path, 3, synthetic_set)
    train_from_config(config, resume=False, overrides={"max_steps_per_epoch": 3})
    history = json.loads((tmp_path / "run" / "history.json").read_text())
    maps = [h["val_map50"] for h in history]
    assert all(0.0 <= m <= 1.0 for m in maps) and all("val_map50_95" in h for h in history)
    best_epoch = max(range(len(maps)), key=lambda i: (maps[i], i)) + 1  # ties: the later epoch
    assert load_checkpoint(tmp_path / "run" / "best.pt")["epoch"] == best_epoch


def test_mining_keeps_the_top_gun_free_windows_of_each_image(tmp_path: Path, synthetic_set) -> None:
    import torch

    from gunwatch.data.layouts import read_dataset
    from gunwatch.models.lineage.sliding_window import WindowClassifier
    from gunwatch.training.lineage.sliding_window.mining import mine_hard_negatives, runtime_of, score_windows

    records = read_dataset(synthetic_set(tmp_path / "data", guns=3, negatives=1)).records
    torch.manual_seed(0)
    model = WindowClassifier(width_mult=0.35, trunk_blocks=4, head_kernel=2, hidden=8).eval()
    config = CONFIG.model_copy(update={"mining_images": 10, "hard_negatives_per_image": 2, "mining_min_score": 0.0,
                                       "threads": 1})
    detector = runtime_of(model, [23 / 16, 23 / 32], config, tmp_path / "mining.onnx")
    mined = mine_hard_negatives(detector, records, config, np.random.default_rng(0))
    assert sorted(mined) == list(range(len(records)))
    for index, windows in mined.items():
        record = records[index]
        assert len(windows) == 2
        boxes = np.array(windows)
        if record.has_gun:
            assert box_iou(boxes, gun_squares(record.gun_boxes, 64, 64)).max() < config.negative_iou
    all_boxes, scores = score_windows(detector, np.zeros((64, 64, 3), np.uint8))
    assert len(all_boxes) == len(scores) == 18 * 18 + 6 * 6 + 1  # 92 px, 46 px and the whole image at 23 px


def test_mined_windows_are_pooled_newest_kept() -> None:
    from gunwatch.training.lineage.sliding_window.mining import merge

    pool = merge({0: [[0, 0, 1, 1]], 1: [[1, 1, 2, 2]]}, {1: [[2, 2, 3, 3], [3, 3, 4, 4]], 2: [[5, 5, 6, 6]]}, cap=2)
    assert pool == {0: [[0, 0, 1, 1]], 1: [[2, 2, 3, 3], [3, 3, 4, 4]], 2: [[5, 5, 6, 6]]}
