"""Shared training pieces: the schedule's shape, one step, and the stop on a non-finite loss."""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")

from gunwatch.training.optimisation import NonFiniteLossError, epochs_within, optimisation_step, warmup_cosine  # noqa: E402


def test_warmup_then_cosine_to_zero() -> None:
    factor = warmup_cosine(100, warmup_fraction=0.1)
    assert factor(0) == pytest.approx(0.1) and factor(9) == pytest.approx(1.0)
    assert factor(10) == pytest.approx(1.0)
    assert factor(55) == pytest.approx(0.5)
    assert factor(100) == pytest.approx(0.0, abs=1e-9)


def setup() -> tuple[torch.nn.Parameter, torch.optim.Optimizer, torch.optim.lr_scheduler.LRScheduler]:
    weight = torch.nn.Parameter(torch.tensor([1.0]))
    optimizer = torch.optim.SGD([weight], lr=0.1)
    return weight, optimizer, torch.optim.lr_scheduler.LambdaLR(optimizer, warmup_cosine(10))


def test_a_step_moves_the_weights_and_the_schedule() -> None:
    weight, optimizer, scheduler = setup()
    optimisation_step((weight * 2).sum(), optimizer, scheduler, "epoch 1 step 0")
    assert weight.item() == pytest.approx(1.0 - 0.1 * 2 * warmup_cosine(10)(0))
    assert scheduler.last_epoch == 1


def test_a_non_finite_loss_stops_before_touching_the_weights() -> None:
    weight, optimizer, scheduler = setup()
    with pytest.raises(NonFiniteLossError, match="epoch 3 step 7"):
        optimisation_step(weight.sum() * float("nan"), optimizer, scheduler, "epoch 3 step 7")
    assert weight.item() == 1.0


def test_a_time_limit_fits_the_epochs_that_remain() -> None:
    # 10 min budget, 2 min gone after epoch 1 at 1 min an epoch: 8 more fit.
    assert epochs_within(600, 120, 60, done=1, planned=50) == 9
    assert epochs_within(600, 120, 60, done=1, planned=5) == 5  # never more than planned
    assert epochs_within(600, 590, 60, done=3, planned=50) == 3  # no room for another: stop here
    assert epochs_within(600, 700, 60, done=3, planned=50) == 3  # over time already
