"""The notebook localizer's loss: BCE on gun / no gun plus a weighted MSE on the box."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from gunwatch.models.localizer import xyxy_to_cxcywh


def localizer_loss(
    class_logit: torch.Tensor,
    box_logits: torch.Tensor,
    has_gun: torch.Tensor,
    target_boxes: torch.Tensor,
    box_weight: float,
    negative_box_target: str,
) -> dict[str, torch.Tensor]:
    """Losses as a dict (the total under "loss"). Boxes are compared as sigmoid (cx, cy, w, h)."""
    class_loss = F.binary_cross_entropy_with_logits(class_logit, has_gun)
    predicted = torch.sigmoid(box_logits)
    # Gun-free images carry an all-zero target box, which is (0, 0, 0, 0) as cx, cy, w, h too.
    per_image = F.mse_loss(predicted, xyxy_to_cxcywh(target_boxes), reduction="none").mean(1)
    if negative_box_target == "zeros":
        box_loss = per_image.mean()  # the notebook: gun-free images pull the box toward the corner
    else:
        # Only images with a gun teach the box: a gun-free image has no box to learn.
        box_loss = (per_image * has_gun).sum() / has_gun.sum().clamp(min=1)
    return {"loss": class_loss + box_weight * box_loss, "class_loss": class_loss, "box_loss": box_loss}
