"""Faster R-CNN (Ren et al. 2015) on the lineage's ImageNet MobileNetV2: torchvision's `FasterRCNN`.

Why torchvision's implementation and not the project's own: it is maintained and tested (its region
proposal network, anchor matching and sampling, box coding, ROI Align and the per-class NMS of the head
are the reference code many papers compare against), and its eval graph exports to ONNX (its own
test_onnx.py covers the model). Writing those parts again here would re-implement what torchvision
already gets right, with new bugs; what is this project's own is the backbone (the same ImageNet
MobileNetV2 as the other methods, loaded from the local weights, nothing downloaded) and the anchors,
which are sized from the training gun boxes (`anchors_from_boxes`).

The backbone stops at stride 16 (`features[:14]`, 96 channels, block 13), not at the 1280-channel stride-32
output: the paper's VGG-16 and ZF feature maps are stride 16, and guns are small objects; at a 416 input
a stride-32 map is 13 x 13 and its anchors are 32 px apart, coarser than many guns. The stride-16 map is
26 x 26, and it skips the last, most expensive blocks (160 to 1280 channels) on the CPU.

Anchors come from one feature map, so the RPN sees every (size, ratio) pair at every location, and the
head pools each proposal to 7 x 7 with `MultiScaleRoIAlign` on that one map.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn
from torchvision.models.detection import FasterRCNN
from torchvision.models.detection.anchor_utils import AnchorGenerator
from torchvision.models.detection.faster_rcnn import FastRCNNPredictor, TwoMLPHead
from torchvision.ops import MultiScaleRoIAlign

from gunwatch.models.localizer import IMAGENET_MEAN, IMAGENET_STD
from gunwatch.models.mobilenet_v2 import MobileNetV2Features

STRIDE = 16
STRIDE_16_BLOCKS = 14  # features[0..13]: stem and inverted residual blocks down to the 96-channel stage
NUM_CLASSES = 2  # background, handgun
HANDGUN_LABEL = 1  # torchvision's label of the handgun class (0 is background)
LOSS_NAMES = ("loss_objectness", "loss_rpn_box_reg", "loss_classifier", "loss_box_reg")


@dataclass(frozen=True)
class Anchors:
    """Anchor sides (sqrt of the area, input pixels) and aspect ratios (height / width, torchvision's)."""

    sizes: tuple[float, ...]
    ratios: tuple[float, ...]


@dataclass(frozen=True)
class FasterRcnnSettings:
    """Everything that shapes the network; stored in the checkpoint so the model can be rebuilt."""

    anchors: Anchors
    min_size: int = 416  # torchvision's resize: the short side to min_size, unless the long one passes max_size
    max_size: int = 416
    representation_size: int = 512  # the head's two fully connected layers (torchvision: 1024)
    rpn_pre_nms_top_n_train: int = 1000
    rpn_post_nms_top_n_train: int = 500
    rpn_pre_nms_top_n_test: int = 600
    rpn_post_nms_top_n_test: int = 300  # proposals per image at test time
    rpn_fg_iou_thresh: float = 0.7  # the paper's anchor labels: > 0.7 foreground, < 0.3 background
    rpn_bg_iou_thresh: float = 0.3
    rpn_batch_size_per_image: int = 256
    box_fg_iou_thresh: float = 0.5  # the head's proposal labels (Fast R-CNN's 0.5)
    box_bg_iou_thresh: float = 0.5
    box_batch_size_per_image: int = 128  # sampled proposals per image for the head (torchvision: 512)
    box_score_thresh: float = 0.001  # low, so an evaluation sees the whole precision-recall curve
    box_nms_thresh: float = 0.5
    box_detections_per_img: int = 100


def anchors_from_boxes(widths: np.ndarray, heights: np.ndarray, num_sizes: int = 5, num_ratios: int = 3) -> Anchors:
    """Anchor sizes and ratios at the quantiles of the training boxes' sides and shapes.

    widths, heights: the gun boxes at the training input scale (pixels). The quantile levels are the
    midpoints of `n` equal-count bins, (i + 0.5) / n, so each anchor stands for as many boxes as the
    next. Sizes are sqrt(w h) rounded to 0.1 px, ratios h / w rounded to 0.01.
    """
    widths, heights = np.asarray(widths, np.float64), np.asarray(heights, np.float64)
    keep = (widths > 0) & (heights > 0)
    if not keep.any():
        raise ValueError("no gun boxes to size the anchors from")
    widths, heights = widths[keep], heights[keep]
    size_levels = (np.arange(num_sizes) + 0.5) / num_sizes
    ratio_levels = (np.arange(num_ratios) + 0.5) / num_ratios
    sizes = np.quantile(np.sqrt(widths * heights), size_levels)
    ratios = np.quantile(heights / widths, ratio_levels)
    return Anchors(tuple(round(float(s), 1) for s in sizes), tuple(round(float(r), 2) for r in ratios))


def input_scale(width: float, height: float, min_size: int, max_size: int) -> float:
    """The factor torchvision's `GeneralizedRCNNTransform` resizes an image by (its `_resize_image_and_masks`)."""
    return min(min_size / min(width, height), max_size / max(width, height))


class MobileNetV2Stride16(nn.Module):
    """MobileNetV2 up to block 13 (stride 16, 96 channels); `out_channels` as torchvision's detectors expect."""

    def __init__(self, width_mult: float = 1.0):
        super().__init__()
        trunk = MobileNetV2Features(width_mult)
        self.features = trunk.features[:STRIDE_16_BLOCKS]
        self.out_channels = int(96 * width_mult)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.features(x)


def build_faster_rcnn(settings: FasterRcnnSettings, width_mult: float = 1.0) -> FasterRCNN:
    """torchvision's Faster R-CNN on the stride-16 MobileNetV2, with the given anchors (untrained head)."""
    backbone = MobileNetV2Stride16(width_mult)
    anchor_generator = AnchorGenerator(sizes=(settings.anchors.sizes,), aspect_ratios=(settings.anchors.ratios,))
    roi_pool = MultiScaleRoIAlign(featmap_names=["0"], output_size=7, sampling_ratio=2)
    box_head = TwoMLPHead(backbone.out_channels * 7 * 7, settings.representation_size)
    return FasterRCNN(
        backbone,
        num_classes=None,
        min_size=settings.min_size,
        max_size=settings.max_size,
        image_mean=list(IMAGENET_MEAN),
        image_std=list(IMAGENET_STD),
        rpn_anchor_generator=anchor_generator,
        rpn_pre_nms_top_n_train=settings.rpn_pre_nms_top_n_train,
        rpn_pre_nms_top_n_test=settings.rpn_pre_nms_top_n_test,
        rpn_post_nms_top_n_train=settings.rpn_post_nms_top_n_train,
        rpn_post_nms_top_n_test=settings.rpn_post_nms_top_n_test,
        rpn_fg_iou_thresh=settings.rpn_fg_iou_thresh,
        rpn_bg_iou_thresh=settings.rpn_bg_iou_thresh,
        rpn_batch_size_per_image=settings.rpn_batch_size_per_image,
        box_roi_pool=roi_pool,
        box_head=box_head,
        box_predictor=FastRCNNPredictor(settings.representation_size, NUM_CLASSES),
        box_score_thresh=settings.box_score_thresh,
        box_nms_thresh=settings.box_nms_thresh,
        box_detections_per_img=settings.box_detections_per_img,
        box_fg_iou_thresh=settings.box_fg_iou_thresh,
        box_bg_iou_thresh=settings.box_bg_iou_thresh,
        box_batch_size_per_image=settings.box_batch_size_per_image,
    )


def freeze_backbone(model: FasterRCNN, blocks: int) -> None:
    """The first `blocks` backbone blocks keep their ImageNet weights (CPU speed: no gradients for them)."""
    for block in model.backbone.features[:blocks]:
        block.requires_grad_(False)


def set_train_mode(model: FasterRCNN, keep_imagenet_statistics: bool = True) -> None:
    """Training mode, but every backbone batch norm keeps its ImageNet statistics (torchvision's detectors
    freeze them too: a few images per batch give statistics too noisy to learn). A backbone trained from
    scratch (`keep_imagenet_statistics=False`, tests) has none to keep, and its batch norms learn."""
    model.train()
    for module in model.backbone.modules():
        if keep_imagenet_statistics and isinstance(module, nn.BatchNorm2d):
            module.eval()


def settings_to_dict(settings: FasterRcnnSettings) -> dict[str, object]:
    fields = {name: getattr(settings, name) for name in settings.__dataclass_fields__ if name != "anchors"}
    return {**fields, "anchor_sizes": list(settings.anchors.sizes), "anchor_ratios": list(settings.anchors.ratios)}


def settings_from_dict(values: dict[str, object]) -> FasterRcnnSettings:
    rest = {k: v for k, v in values.items() if k not in ("anchor_sizes", "anchor_ratios")}
    anchors = Anchors(tuple(values["anchor_sizes"]), tuple(values["anchor_ratios"]))  # type: ignore[arg-type]
    return FasterRcnnSettings(anchors=anchors, **rest)  # type: ignore[arg-type]


def loss_total(losses: dict[str, torch.Tensor], names: Sequence[str] = LOSS_NAMES) -> torch.Tensor:
    return sum((losses[name] for name in names), torch.zeros(()))
