"""A short real training run: the localizer learns a handful of synthetic images, end to end through ONNX."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from gunwatch.evaluation.evaluate import evaluate
from gunwatch.inference.loading import load_detector
from gunwatch.training.config import load_train_config
from gunwatch.training.pipeline import train_from_config

pytest.importorskip("torch")


def write_run(tmp_path: Path, epochs: int, synthetic_set) -> tuple[Path, Path, Path]:
    data = synthetic_set(tmp_path / "data", guns=6, negatives=2)
    keys = sorted(p.name for p in (data / "pistol_images").iterdir())
    # Train, choose the threshold and measure on the same images: this checks that it learns, not that it generalises.
    split = tmp_path / "split.json"
    split.write_text(json.dumps({"train": keys, "val": keys, "test": keys}))
    config = tmp_path / "train.yaml"
    config.write_text(
        f"data: {data}\nsplit: {split}\nout: {tmp_path / 'run'}\ninput_size: 64\nwidth_mult: 0.35\n"
        f"pretrained: none\nfreeze_blocks: 0\nepochs: {epochs}\nbatch_size: 8\nlr: 0.01\n"
        "hflip: 0\ngrayscale: 0\nbrightness_contrast: 0\nmax_val_image_fpr: 0.0\nthreads: 1\n"
    )
    return data, split, config


@pytest.mark.slow
def test_a_short_run_learns_the_fixture_images(tmp_path: Path, synthetic_set) -> None:
    data, split, config = write_run(tmp_path, 80, synthetic_set)
    model_path = train_from_config(config, resume=False, overrides={})

    history = json.loads((tmp_path / "run" / "history.json").read_text())
    assert history[-1]["train_loss"] < history[0]["train_loss"] / 10
    for artefact in ("best.pt", "last.pt", "curves.png", "model.onnx"):
        assert (tmp_path / "run" / artefact).is_file(), artefact
    assert any((tmp_path / "run" / "tensorboard").iterdir())

    report = evaluate(load_detector(model_path), data, "test", split, progress=False).report
    assert report.map50 >= 0.9
    assert report.image_recall == 1.0
    assert report.image_fpr == 0.0  # the threshold was chosen on these images for 0 % flagged
    assert report.mean_iou >= 0.6


def test_resume_continues_from_the_last_checkpoint(tmp_path: Path, synthetic_set) -> None:
    _, _, config = write_run(tmp_path, 2, synthetic_set)
    train_from_config(config, resume=False, overrides={})
    train_from_config(config, resume=True, overrides={"epochs": 3})
    history = json.loads((tmp_path / "run" / "history.json").read_text())
    assert [h["epoch"] for h in history] == [1, 2, 3]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("data: d\nsplit: s\nepochz: 3\n", "epochz: Extra inputs are not permitted"),
        ("data: d\nsplit: s\nepochs: 0\n", "epochs: Input should be greater than or equal to 1"),
        ("data: d\nsplit: s\nnegative_box_target: corner\n", "negative_box_target"),
        ("model: yolox-nano\ndata: d\nsplit: s\nwidth: 0.3\n", "width: Value error, 0.3 x 64 stem channels"),
        ("data: d\n  split: [\n", "train.yaml:"),
        ("- a list\n", "expected a mapping"),
    ],
)
def test_config_errors_name_the_file_and_key(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "train.yaml"
    path.write_text(text)
    with pytest.raises(ValueError) as raised:
        load_train_config(path)
    assert str(raised.value).startswith(str(path))
    assert message in str(raised.value)


def test_a_variant_config_overrides_its_base(tmp_path: Path) -> None:
    (tmp_path / "base.yaml").write_text("data: d\nsplit: s\nepochs: 7\nnegative_box_target: ignore\n")
    (tmp_path / "variant.yaml").write_text("base: base.yaml\nnegative_box_target: zeros\n")
    config = load_train_config(tmp_path / "variant.yaml", overrides={"epochs": None})
    assert (config.epochs, config.negative_box_target, str(config.data)) == (7, "zeros", "d")


def test_a_base_may_have_a_base_but_not_a_circle(tmp_path: Path) -> None:
    (tmp_path / "a.yaml").write_text("data: d\nsplit: s\nepochs: 7\nbatch_size: 4\n")
    (tmp_path / "b.yaml").write_text("base: a.yaml\nepochs: 8\n")
    (tmp_path / "c.yaml").write_text("base: b.yaml\nbatch_size: 5\n")
    config = load_train_config(tmp_path / "c.yaml")
    assert (config.epochs, config.batch_size, str(config.data)) == (8, 5, "d")
    (tmp_path / "a.yaml").write_text("base: c.yaml\n")
    with pytest.raises(ValueError, match="circle"):
        load_train_config(tmp_path / "c.yaml")


def test_the_shipped_configs_are_valid() -> None:
    configs = Path(__file__).resolve().parents[2] / "configs"
    # Site files (a `cameras:` section) are for `gunwatch watch` and are checked in tests/config.
    training = [p for p in sorted(configs.glob("*.yaml")) if "cameras" not in (yaml.safe_load(p.read_text()) or {})]
    assert len(training) >= 5
    for path in training:
        load_train_config(path)
