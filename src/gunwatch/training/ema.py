"""An exponential moving average of a network's weights: what gets validated and exported (YOLOX's ModelEMA)."""

from __future__ import annotations

import copy
import math

import torch
from torch import nn


class ModelEMA:
    """Exponential moving average of the weights, buffers (batch-norm statistics) included.

    The decay ramps up from 0 over the first updates (``ramp_updates``), so early averages are not dominated by
    the start.
    """

    def __init__(self, model: nn.Module, decay: float, ramp_updates: int = 500):
        self.model = copy.deepcopy(model).eval().requires_grad_(False)
        self.decay, self.ramp, self.updates = decay, ramp_updates, 0

    @torch.no_grad()
    def update(self, model: nn.Module) -> None:
        self.updates += 1
        decay = self.decay * (1 - math.exp(-self.updates / self.ramp))
        current = model.state_dict()
        for name, value in self.model.state_dict().items():
            if value.dtype.is_floating_point:
                value.mul_(decay).add_(current[name].detach(), alpha=1 - decay)
            else:
                value.copy_(current[name])
