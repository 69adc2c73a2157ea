"""Training curves as a PNG, redrawn after every epoch."""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt

LOCALIZER_CURVES = (("train_loss", "val_loss"), ("val_accuracy", "val_mean_iou"))


def plot_training_curves(
    history: list[dict[str, float]],
    path: Path,
    loss_keys: Sequence[str] = LOCALIZER_CURVES[0],
    quality_keys: Sequence[str] = LOCALIZER_CURVES[1],
) -> Path:
    """history: one dict per epoch; losses on the left panel, validation quality (0..1) on the right.

    An epoch without a key (a run resumed after a metric was added) leaves a gap in that curve."""
    epochs = [h["epoch"] for h in history]
    fig, (loss_ax, quality_ax) = plt.subplots(1, 2, figsize=(10, 4))
    for key in loss_keys:
        loss_ax.plot(epochs, [h.get(key, math.nan) for h in history], marker="o", label=key.replace("_", " "))
    loss_ax.set(xlabel="epoch", ylabel="loss", title="loss")
    loss_ax.legend()
    for key in quality_keys:
        quality_ax.plot(epochs, [h.get(key, math.nan) for h in history], marker="o", label=key.replace("_", " "))
    quality_ax.set(xlabel="epoch", ylim=(0, 1), title="validation")
    quality_ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path
