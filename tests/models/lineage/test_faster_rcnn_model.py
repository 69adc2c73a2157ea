"""The lineage's Faster R-CNN network: anchors from boxes, anchor labels, shapes and the four losses."""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("torchvision")

from gunwatch.models.lineage.faster_rcnn import (  # noqa: E402
    LOSS_NAMES,
    Anchors,
    FasterRcnnSettings,
    anchors_from_boxes,
    build_faster_rcnn,
    freeze_backbone,
    input_scale,
    set_train_mode,
    settings_from_dict,
    settings_to_dict,
)


def small_settings(**changes: object) -> FasterRcnnSettings:
    values: dict[str, object] = {"anchors": Anchors((16.0, 32.0), (0.5, 1.0, 2.0)), "min_size": 96, "max_size": 128,
                                 "representation_size": 32, "rpn_post_nms_top_n_test": 50,
                                 "box_detections_per_img": 20}
    return FasterRcnnSettings(**{**values, **changes})  # type: ignore[arg-type]


def test_anchor_sizes_are_quantiles_of_the_box_sides() -> None:
    # Square boxes of sides 10, 20, ..., 100: the 0.1, 0.3, 0.5, 0.7, 0.9 quantiles (linear interpolation).
    sides = np.arange(1, 11) * 10.0
    anchors = anchors_from_boxes(sides, sides)
    assert anchors.sizes == (19.0, 37.0, 55.0, 73.0, 91.0)
    assert anchors.ratios == (1.0, 1.0, 1.0)


def test_anchor_ratios_are_quantiles_of_height_over_width() -> None:
    # h / w of 0.5, 1, 2 at the levels 1/6, 1/2, 5/6: 0.5 + 0.5 / 3, 1, 1 + 2 / 3.
    widths, heights = np.array([10.0, 10.0, 10.0]), np.array([5.0, 10.0, 20.0])
    anchors = anchors_from_boxes(widths, heights, num_sizes=1, num_ratios=3)
    assert anchors.ratios == (0.67, 1.0, 1.67)
    assert anchors.sizes == (10.0,)  # the median of sqrt(50), 10, sqrt(200)


def test_anchors_ignore_empty_boxes_and_need_at_least_one() -> None:
    assert anchors_from_boxes(np.array([0.0, 8.0]), np.array([5.0, 2.0]), 1, 1) == Anchors((4.0,), (0.25,))
    with pytest.raises(ValueError, match="no gun boxes"):
        anchors_from_boxes(np.zeros(0), np.zeros(0))


def test_input_scale_is_torchvisions_resize() -> None:
    assert input_scale(640, 480, 416, 416) == pytest.approx(0.65)
    assert input_scale(160, 120, 416, 416) == pytest.approx(2.6)
    assert input_scale(640, 480, 300, 1000) == pytest.approx(300 / 480)  # the short side decides


def test_settings_round_trip_through_plain_values() -> None:
    settings = small_settings()
    assert settings_from_dict(settings_to_dict(settings)) == settings


def test_the_rpn_has_one_anchor_per_size_and_ratio_on_the_stride_16_map() -> None:
    model = build_faster_rcnn(small_settings(), width_mult=0.35)
    assert model.rpn.anchor_generator.num_anchors_per_location() == [6]
    assert model.rpn.head.cls_logits.out_channels == 6
    assert model.rpn.head.bbox_pred.out_channels == 24
    with torch.no_grad():
        features = model.backbone(torch.rand(1, 3, 96, 128))
    assert features.shape == (1, model.backbone.out_channels, 6, 8)


def test_anchor_labels_follow_the_papers_thresholds() -> None:
    """Anchors over 0.7 IoU are foreground, under 0.3 background, between ignored (-2); a gun's best anchor
    is foreground whatever its IoU (the paper's second rule), so every gun has one."""
    matcher = build_faster_rcnn(small_settings(), width_mult=0.35).rpn.proposal_matcher
    iou = torch.tensor([[0.8, 0.5, 0.2, 0.0], [0.0, 0.1, 0.25, 0.4]])
    assert matcher(iou).tolist() == [0, -2, -1, 1]


def test_training_returns_the_four_losses_and_eval_boxes_in_image_pixels() -> None:
    torch.manual_seed(0)
    model = build_faster_rcnn(small_settings(), width_mult=0.35)
    set_train_mode(model, keep_imagenet_statistics=False)
    images = [torch.rand(3, 60, 80), torch.rand(3, 100, 70)]
    targets = [{"boxes": torch.tensor([[10.0, 12.0, 40.0, 30.0]]), "labels": torch.tensor([1])},
               {"boxes": torch.zeros(0, 4), "labels": torch.zeros(0, dtype=torch.int64)}]  # a gun-free image
    losses = model(images, targets)
    assert set(losses) == set(LOSS_NAMES)
    assert all(torch.isfinite(value) for value in losses.values())

    model.eval()
    with torch.no_grad():
        outputs = model(images)
    for image, out in zip(images, outputs, strict=True):
        height, width = image.shape[1:]
        assert out["boxes"].shape[1] == 4 and len(out["boxes"]) <= 20
        assert (out["boxes"][:, 2] <= width).all() and (out["boxes"][:, 3] <= height).all()
        assert (out["labels"] == 1).all()
        assert (out["scores"] >= 0.001).all()


def test_frozen_blocks_get_no_gradients_and_batch_norms_keep_imagenet_statistics() -> None:
    model = build_faster_rcnn(small_settings(), width_mult=0.35)
    freeze_backbone(model, 4)
    assert not any(p.requires_grad for block in model.backbone.features[:4] for p in block.parameters())
    assert all(p.requires_grad for block in model.backbone.features[4:] for p in block.parameters())
    set_train_mode(model)
    norms = [m for m in model.backbone.modules() if isinstance(m, torch.nn.BatchNorm2d)]
    assert norms and not any(m.training for m in norms)
    assert model.rpn.training and model.roi_heads.training
