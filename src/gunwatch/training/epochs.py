"""What every training loop does at the end of an epoch: log its metrics, save the checkpoints and plots."""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch
from torch.utils.tensorboard import SummaryWriter
from tqdm import tqdm

from gunwatch.training.checkpoints import load_checkpoint, save_checkpoint
from gunwatch.training.curves import LOCALIZER_CURVES, plot_training_curves
from gunwatch.training.optimisation import seed_everything


def start_run(config: Any) -> torch.Generator:
    """What every run does first: its torch threads, its seed, its folder and the config it ran with (a
    `TrainRunConfig` with `out`); returns the seeded generator for its batches."""
    if config.threads:
        torch.set_num_threads(config.threads)
    generator = seed_everything(config.seed)
    config.out.mkdir(parents=True, exist_ok=True)
    (config.out / "config.json").write_text(config.model_dump_json(indent=1))
    return generator


def run_state(model: torch.nn.Module, optimizer: torch.optim.Optimizer,
              scheduler: torch.optim.lr_scheduler.LRScheduler, generator: torch.Generator, epoch: int,
              history: list[dict[str, float]], config: Any) -> dict[str, Any]:
    """An epoch's checkpoint: everything `restore_run` puts back, and the config it ran with."""
    return {
        "model": model.state_dict(), "optimizer": optimizer.state_dict(), "scheduler": scheduler.state_dict(),
        "generator": generator.get_state(), "epoch": epoch, "history": history,
        "config": config.model_dump(mode="json"),
    }


def restore_run(state: dict[str, Any], model: torch.nn.Module, optimizer: torch.optim.Optimizer,
                scheduler: torch.optim.lr_scheduler.LRScheduler, generator: torch.Generator | None,
                path: Path) -> tuple[list[dict[str, float]], int]:
    """A run's last checkpoint back into its model, optimiser, schedule and random stream (where it keeps
    one); returns its history and the epoch to go on with."""
    model.load_state_dict(state["model"])
    optimizer.load_state_dict(state["optimizer"])
    scheduler.load_state_dict(state["scheduler"])
    if generator is not None:
        generator.set_state(state["generator"])
    tqdm.write(f"resuming after epoch {state['epoch']} from {path}")
    return state["history"], state["epoch"] + 1


def resume_if_asked(out: Path, resume: bool, model: torch.nn.Module, optimizer: torch.optim.Optimizer,
                    scheduler: torch.optim.lr_scheduler.LRScheduler,
                    generator: torch.Generator | None) -> tuple[list[dict[str, float]], int]:
    """(history, first epoch): the run folder's last checkpoint restored when `resume` and there is one,
    else a fresh start."""
    last = out / "last.pt"
    if not (resume and last.exists()):
        return [], 1
    return restore_run(load_checkpoint(last), model, optimizer, scheduler, generator, last)


def finite_or_zero(value: float) -> float:
    """A validation mAP for the history and the best-epoch choice: NaN (no gun in the sample) counts as 0."""
    return 0.0 if math.isnan(value) else float(value)


def report_epoch(metrics: dict[str, float], writer: SummaryWriter) -> None:
    """The epoch's metrics to TensorBoard and as one line on the console."""
    epoch = int(metrics["epoch"])
    for name, value in metrics.items():
        if name != "epoch":
            writer.add_scalar(f"epoch/{name}", value, epoch)
    tqdm.write("  ".join(f"{k} {v:.4f}" if isinstance(v, float) else f"{k} {v}" for k, v in metrics.items()))


def save_epoch(
    out: Path,
    state: dict[str, Any],
    history: list[dict[str, float]],
    is_best: bool,
    curves: tuple[Sequence[str], Sequence[str]] = LOCALIZER_CURVES,
) -> None:
    """last.pt always, best.pt when `is_best`, then history.json and curves.png (loss keys, quality keys)."""
    save_checkpoint(out / "last.pt", state)
    if is_best:
        save_checkpoint(out / "best.pt", state)
    (out / "history.json").write_text(json.dumps(history, indent=1))
    plot_training_curves(history, out / "curves.png", *curves)
