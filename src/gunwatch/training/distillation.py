"""Knowledge distillation: a detector learns a teacher detector's outputs beside the labels.

Used to move the shipped detector to another activation (configs/detector-relu-distilled.yaml): the teacher is
the shipped SiLU network, the student its ReLU copy. The labels say where the guns are; the teacher says, at
every output point, how sure it is and where its box lies, guns and people alike, which is far more to learn
from per image than a few labelled boxes.

Per output point p with the teacher's objectness t_p (its sigmoid), on raw head outputs:
- objectness: BCE(student logit, t_p) minus the teacher's own entropy (0 when they agree), every point;
- classes: the same per class, weighted by t_p (where the teacher sees something);
- box: L1 between the raw box outputs (grid offsets, log sizes), weighted by t_p;
each summed and divided by the sum of t_p (the teacher's count of objects), as YOLOX divides by its matches.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import Tensor

from gunwatch.models.yolox import YOLOX, load_yolox_onnx_weights


def flat_outputs(levels: Sequence[Tensor]) -> Tensor:
    """Raw head outputs per level [N, 5 + C, H, W] -> [N, points, 5 + C]."""
    return torch.cat([level.flatten(start_dim=2) for level in levels], dim=2).permute(0, 2, 1)


def soft_bce(logits: Tensor, target: Tensor) -> Tensor:
    """BCE against soft targets minus the targets' entropy: 0 where the logits give the targets exactly."""
    return (F.binary_cross_entropy_with_logits(logits, target, reduction="none")
            - F.binary_cross_entropy(target, target, reduction="none"))


def distillation_loss(student: Sequence[Tensor], teacher: Sequence[Tensor]) -> dict[str, Tensor]:
    """student, teacher: raw head outputs per level. Returns the loss and its parts."""
    s, t = flat_outputs(student), flat_outputs(teacher).detach()
    t_obj = torch.sigmoid(t[..., 4]).clamp(1e-6, 1 - 1e-6)
    t_cls = torch.sigmoid(t[..., 5:]).clamp(1e-6, 1 - 1e-6)
    mass = t_obj.sum().clamp(min=1.0)
    obj = soft_bce(s[..., 4], t_obj).sum() / mass
    cls = (soft_bce(s[..., 5:], t_cls).sum(dim=-1) * t_obj).sum() / mass
    box = ((s[..., :4] - t[..., :4]).abs().sum(dim=-1) * t_obj).sum() / mass
    return {"distill": obj + cls + box, "distill_obj": obj.detach(), "distill_cls": cls.detach(),
            "distill_box": box.detach()}


def load_teacher(path: Path, network: YOLOX) -> YOLOX:
    """`network` (of the teacher's layout and activation) filled with an exported detector's weights, frozen.

    An export holds its batch norms folded; loaded as identities with the folded bias, the network in eval
    mode computes exactly what the file computes.
    """
    load_yolox_onnx_weights(network, path, expected_sha256=None)
    return network.eval().requires_grad_(False)
