"""Fast R-CNN training: the paper's RoI mini-batch, its multi-task loss, a short run end to end, resume."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
import torch

from gunwatch.boxes import box_iou
from gunwatch.evaluation.evaluate import evaluate
from gunwatch.inference.lineage.box_coding import encode
from gunwatch.inference.loading import load_detector
from gunwatch.models.lineage.fast_rcnn import BOX_STDS
from gunwatch.training.lineage.fast_rcnn.config import FastRcnnTrainConfig
from gunwatch.training.lineage.fast_rcnn.train import fast_rcnn_loss, training_image
from gunwatch.training.pipeline import train_from_config

GUN = np.array([[50.0, 20.0, 90.0, 60.0]], np.float32)  # 40 x 40 in a 200 x 100 image


def proposals_around_the_gun(rng: np.random.Generator) -> np.ndarray:
    """40 boxes at IoU >= 0.5 with the gun, 100 at IoU in [0.1, 0.5), 100 far away (IoU 0)."""
    near = GUN + rng.uniform(-4, 4, (40, 4))
    partial = GUN + np.array([25.0, 0.0, 25.0, 0.0]) + rng.uniform(-3, 3, (100, 4))
    far = np.array([[140.0, 60.0, 190.0, 95.0]]) + rng.uniform(-5, 5, (100, 4))
    return np.concatenate([near, partial, far]).astype(np.float32)


def config(**changes) -> FastRcnnTrainConfig:
    return FastRcnnTrainConfig(data="d", split="s", min_side=100, max_side=200, **changes)


@pytest.mark.parametrize("flip", [False, True])
def test_a_gun_image_gives_64_rois_a_quarter_foreground(flip: bool) -> None:
    rng = np.random.default_rng(0)
    image = np.zeros((100, 200, 3), np.uint8)
    sample = training_image(image, GUN, proposals_around_the_gun(rng), config(), rng, flip)
    gun = np.array([[200 - 90.0, 20.0, 200 - 50.0, 60.0]]) if flip else GUN
    iou = box_iou(sample.rois, gun)[:, 0]
    assert len(sample.rois) == 64
    assert sample.labels.sum() == 16  # 25 % of 64
    assert (iou[sample.labels == 1] >= 0.5).all()
    background = iou[sample.labels == 0]
    assert ((background >= 0.1) & (background < 0.5)).all()  # none of the far-away boxes
    np.testing.assert_allclose(sample.targets[sample.labels == 1],
                               encode(sample.rois[sample.labels == 1], np.repeat(gun, 16, 0), stds=BOX_STDS),
                               atol=1e-5)
    assert (sample.targets[sample.labels == 0] == 0).all()
    assert sample.image.shape == (100, 200, 3)


def test_the_image_and_its_boxes_are_scaled_together() -> None:
    rng = np.random.default_rng(0)
    # 400 x 200 pixels: the shorter side 200 -> 100, the longer 400 -> 200
    sample = training_image(np.zeros((200, 400, 3), np.uint8), GUN * 2, proposals_around_the_gun(rng) * 2,
                            config(), rng, False)
    assert sample.image.shape == (100, 200, 3)
    assert (box_iou(sample.rois[sample.labels == 1], GUN) >= 0.5).all()


def test_a_gun_free_image_gives_only_background() -> None:
    rng = np.random.default_rng(0)
    proposals = proposals_around_the_gun(rng)
    sample = training_image(np.zeros((100, 200, 3), np.uint8), np.zeros((0, 4)), proposals, config(), rng, False)
    assert len(sample.rois) == 64
    assert (sample.labels == 0).all()


def test_the_multi_task_loss_on_a_constructed_case() -> None:
    logits = torch.zeros(2, 3)  # one foreground RoI of class 2, one background
    deltas = torch.zeros(2, 8)
    deltas[0, 4:] = torch.tensor([0.5, 0.0, 0.0, 2.0])  # class 2's columns
    deltas[0, :4] = 100.0  # class 1's: not this RoI's class, no loss
    deltas[1] = 100.0  # background: no box loss
    labels = torch.tensor([2, 0])
    targets = torch.zeros(2, 4)
    losses = fast_rcnn_loss(logits, deltas, labels, targets, box_weight=2.0)
    # smooth L1 (beta 1): 0.5 * 0.5^2 + (2 - 0.5) = 1.625, over the 2 RoIs
    assert losses["box"].item() == pytest.approx(1.625 / 2)
    assert losses["cls"].item() == pytest.approx(math.log(3))
    assert losses["loss"].item() == pytest.approx(math.log(3) + 2 * 1.625 / 2)


def test_no_foreground_means_no_box_loss() -> None:
    losses = fast_rcnn_loss(torch.zeros(3, 2), torch.ones(3, 4), torch.zeros(3, dtype=torch.int64),
                            torch.zeros(3, 4), 1.0)
    assert losses["box"].item() == 0.0


def write_run(tmp_path: Path, epochs: int, synthetic_set, roi_op: str = "pool") -> tuple[Path, Path, Path]:
    data = synthetic_set(tmp_path / "data", guns=6, negatives=2)
    keys = sorted(p.name for p in (data / "pistol_images").iterdir())
    # Train, choose the threshold and measure on the same images: this checks that it learns, not that it generalises.
    split = tmp_path / "split.json"
    split.write_text(json.dumps({"train": keys, "val": keys, "test": keys}))
    path = tmp_path / "train.yaml"
    path.write_text(
        f"model: fast-rcnn\ndata: {data}\nsplit: {split}\nout: {tmp_path / 'run'}\n"
        f"proposal_folder: {tmp_path / 'proposals'}\nproposal_max_side: 64\nmin_side: 64\nmax_side: 64\n"
        f"roi_op: {roi_op}\npretrained: auto\nfreeze_blocks: 0\nfc_dim: 128\ndropout: 0\nepochs: {epochs}\n"
        "lr: 0.01\nhflip: 0\nmax_val_image_fpr: 0.0\nthreads: 1\n"
    )
    return data, split, path


@pytest.mark.slow
@pytest.mark.parametrize("roi_op", ["pool", "align"])
def test_a_short_run_learns_the_fixture_images(tmp_path: Path, synthetic_set, roi_op: str) -> None:
    data, split, path = write_run(tmp_path, 20, synthetic_set, roi_op)
    model_path = train_from_config(path, resume=False, overrides={})

    history = json.loads((tmp_path / "run" / "history.json").read_text())
    assert history[-1]["train_loss"] < history[0]["train_loss"] / 2
    assert {"train_cls", "train_box", "val_cls", "val_box", "val_map50"} <= set(history[0])
    for artefact in ("best.pt", "last.pt", "curves.png", "model.onnx"):
        assert (tmp_path / "run" / artefact).is_file(), artefact

    detector = load_detector(model_path)
    report = evaluate(detector, data, "test", split, progress=False).report
    assert report.map50 >= 0.9
    assert report.image_recall == 1.0
    assert report.image_fpr == 0.0  # the threshold was chosen on these images for 0 % flagged
    assert report.mean_iou >= 0.6
    assert detector.roi_op == roi_op
    assert detector.proposals_per_image and all(n > 0 for n in detector.proposals_per_image)


def test_resume_continues_from_the_last_checkpoint(tmp_path: Path, synthetic_set) -> None:
    _, _, path = write_run(tmp_path, 1, synthetic_set)
    train_from_config(path, resume=False, overrides={"max_steps_per_epoch": 1})
    first = torch.load(tmp_path / "run" / "last.pt", weights_only=True)["model"]["cls_score.weight"]
    train_from_config(path, resume=True, overrides={"epochs": 2, "max_steps_per_epoch": 1})
    history = json.loads((tmp_path / "run" / "history.json").read_text())
    assert [h["epoch"] for h in history] == [1, 2]
    assert not torch.equal(torch.load(tmp_path / "run" / "last.pt", weights_only=True)["model"]["cls_score.weight"],
                           first)
