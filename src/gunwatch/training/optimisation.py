"""What every training loop shares: seeding, the learning-rate schedule, and one optimisation step."""

from __future__ import annotations

import math
import random

import numpy as np
import torch


class NonFiniteLossError(RuntimeError):
    pass


def optimisation_step(
    loss: torch.Tensor, optimizer: torch.optim.Optimizer, scheduler: torch.optim.lr_scheduler.LRScheduler, where: str
) -> None:
    """Backward, step, schedule; a non-finite loss stops the run instead of poisoning the weights."""
    if not torch.isfinite(loss):
        raise NonFiniteLossError(f"loss is {loss.item()} at {where}; stopping")
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()
    scheduler.step()


def warmup_cosine(total_steps: int, warmup_fraction: float = 0.05):
    """LR factor per step: linear warm-up, then cosine decay to zero; safe for runs of a few steps."""
    warmup = max(1, round(warmup_fraction * total_steps))

    def factor(step: int) -> float:
        if step < warmup:
            return (step + 1) / warmup
        progress = (step - warmup) / max(1, total_steps - warmup)
        return 0.5 * (1 + math.cos(math.pi * min(progress, 1.0)))

    return factor


def epochs_within(limit_s: float, elapsed_s: float, epoch_s: float, done: int, planned: int) -> int:
    """How many epochs a run can plan for and still end within `limit_s`, never more than `planned`.

    `done` epochs are finished after `elapsed_s` seconds; the next ones are assumed to take `epoch_s`
    each (the last epoch's time, which for the first epoch includes warm-up costs, so the guess is safe).
    """
    fit = done + math.floor(max(0.0, limit_s - elapsed_s) / max(epoch_s, 1e-9))
    return max(done, min(planned, fit))


def seed_everything(seed: int) -> torch.Generator:
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
    return torch.Generator().manual_seed(seed)
