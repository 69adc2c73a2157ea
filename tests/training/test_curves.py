"""Training curves: a PNG per run, also for a run resumed after a metric was added."""

from __future__ import annotations

from PIL import Image

from gunwatch.training.curves import plot_training_curves


def test_an_epoch_without_a_newer_metric_leaves_a_gap_not_an_error(tmp_path) -> None:
    history = [
        {"epoch": 1, "train_loss": 0.9, "val_loss": 0.8, "val_accuracy": 0.7},  # before val_map50 existed
        {"epoch": 2, "train_loss": 0.7, "val_loss": 0.6, "val_accuracy": 0.8, "val_map50": 0.4},
    ]
    path = plot_training_curves(history, tmp_path / "curves.png", ("train_loss", "val_loss"),
                                ("val_accuracy", "val_map50"))
    with Image.open(path) as image:
        assert image.size[0] > 100 and image.size[1] > 100
