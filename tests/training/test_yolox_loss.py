"""YOLOX loss and SimOTA assignment on constructed cases."""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")

from gunwatch.inference.onnx_yolox import decode_yolox  # noqa: E402
from gunwatch.metrics.iou import box_iou  # noqa: E402
from gunwatch.training.yolox_loss import Target, cxcywh_iou, simota_assign, xyxy_to_cxcywh, yolox_loss  # noqa: E402

SIZE = 128  # input side: 16x16 + 8x8 + 4x4 = 336 points
STRIDES = (8, 16, 32)


def points() -> tuple[torch.Tensor, torch.Tensor]:
    from gunwatch.inference.onnx_yolox import grid_and_strides

    grid, stride = grid_and_strides((SIZE, SIZE))
    return torch.from_numpy((grid + 0.5) * stride), torch.from_numpy(stride[:, 0])


def target(*boxes_and_classes: tuple[list[float], int]) -> Target:
    return Target(
        torch.tensor([b for b, _ in boxes_and_classes], dtype=torch.float32),
        torch.tensor([c for _, c in boxes_and_classes], dtype=torch.long),
    )


def test_cxcywh_iou_hand_cases() -> None:
    a = torch.tensor([[10.0, 10, 20, 20]])  # the box 0..20
    b = torch.tensor([[20.0, 10, 20, 20], [10.0, 10, 20, 20]])  # 10..30 across, and itself
    assert cxcywh_iou(a, b)[0].tolist() == pytest.approx([200 / 600, 1.0])
    assert cxcywh_iou(b, b, pairwise=False).tolist() == pytest.approx([1.0, 1.0])


def test_perfect_predictions_assign_points_inside_the_box() -> None:
    centres, strides = points()
    gt = target(([40.0, 40, 88, 72], 1))
    pred = xyxy_to_cxcywh(gt.boxes).expand(len(centres), -1).clone()  # every point predicts the box exactly
    cls = torch.full((len(centres), 2), -4.0)
    obj = torch.zeros(len(centres))
    found = simota_assign(pred, cls, obj, centres, strides, gt)
    chosen = centres[found.foreground]
    assert 1 <= len(chosen) <= 10  # dynamic k: the sum of the top-10 IoUs (all 1 here)
    assert ((chosen[:, 0] > 40) & (chosen[:, 0] < 88) & (chosen[:, 1] > 40) & (chosen[:, 1] < 72)).all()
    assert found.matched_gt.tolist() == [0] * len(chosen)
    assert found.matched_iou.tolist() == pytest.approx([1.0] * len(chosen))


def test_two_overlapping_boxes_never_share_a_point() -> None:
    centres, strides = points()
    gt = target(([20.0, 20, 80, 80], 0), ([30.0, 30, 90, 90], 1))
    torch.manual_seed(0)
    pred = torch.cat((centres + torch.randn(len(centres), 2), torch.full((len(centres), 2), 55.0)), dim=1)
    found = simota_assign(pred, torch.zeros(len(centres), 2), torch.zeros(len(centres)), centres, strides, gt)
    assert found.foreground.sum() == len(found.matched_gt)
    assert set(found.matched_gt.tolist()) == {0, 1}  # both boxes get points


def test_a_box_with_no_candidate_point_gets_nothing() -> None:
    centres, strides = points()
    gt = target(([500.0, 500, 510, 510], 1))  # outside the image
    found = simota_assign(torch.rand(len(centres), 4) * 50, torch.zeros(len(centres), 2), torch.zeros(len(centres)),
                          centres, strides, gt)
    assert not found.foreground.any()


def free_levels(classes: int = 2) -> list[torch.Tensor]:
    return [torch.zeros(1, 5 + classes, SIZE // s, SIZE // s, requires_grad=True) for s in STRIDES]


def test_without_boxes_only_objectness_is_learnt() -> None:
    levels = free_levels()
    losses = yolox_loss(levels, [Target(torch.zeros(0, 4), torch.zeros(0, dtype=torch.long))])
    assert losses["box"] == 0 and losses["cls"] == 0
    assert losses["obj"] > 0 and torch.isfinite(losses["loss"])
    losses["loss"].backward()
    assert all(level.grad is not None for level in levels)


def test_minimising_the_loss_puts_the_box_where_the_target_is() -> None:
    """Loss, assignment and the runtime's decode agree: optimise raw outputs, decode them, find the box."""
    levels = free_levels()
    gun = [40.0, 48, 88, 80]
    targets = [target(([8.0, 8, 120, 124], 0), (gun, 1))]
    optimizer = torch.optim.Adam(levels, lr=0.05)
    first = None
    for _ in range(150):
        losses = yolox_loss(levels, targets)
        first = first if first is not None else losses["loss"].item()
        optimizer.zero_grad()
        losses["loss"].backward()
        optimizer.step()
    assert losses["loss"].item() < first / 3

    flat = torch.cat([lv.detach().flatten(start_dim=2) for lv in levels], dim=2).permute(0, 2, 1)[0]
    raw = torch.cat((flat[:, :4], flat[:, 4:].sigmoid()), dim=1).numpy()
    xyxy, scores, class_ids = decode_yolox(raw, (SIZE, SIZE))
    best_gun = scores.copy()
    best_gun[class_ids != 1] = 0
    assert box_iou(xyxy[best_gun.argmax()][None], [gun])[0, 0] > 0.8
    assert best_gun.max() > 0.5
