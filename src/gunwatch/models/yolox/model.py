"""YOLOX put together from injected parts (after Megvii YOLOX `yolox/models/yolox.py`, Apache-2.0)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import onnx
from torch import Tensor, nn

from gunwatch.models.yolox.backbone import CSPDarknet
from gunwatch.models.yolox.head import STRIDES, YoloxHead, append_classes, flatten_levels, keep_head_classes
from gunwatch.models.yolox.mobilenet_backbone import DEFAULT_FROZEN_LAYERS, MobileNetV2Pyramid
from gunwatch.models.yolox.neck import PAFPN
from gunwatch.models.yolox.onnx_weights import read_onnx_convs

COCO_NUM_CLASSES = 80
COCO_PERSON = 0

# YOLOX-Nano: depth and width multipliers, depthwise separable 3x3 convolutions.
NANO_DEPTH = 0.33
NANO_WIDTH = 0.25
STEM_CHANNELS = 64  # the stem's channels at width 1; every other layer's follow from it


class YOLOX(nn.Module):
    """backbone (images -> 3 feature maps) -> neck (-> 3 fused maps) -> head (-> per-level outputs).

    Input: [N, 3, H, W] BGR pixel values 0..255 (no mean/std), H and W multiples of 32.
    """

    def __init__(self, backbone: CSPDarknet | MobileNetV2Pyramid, neck: PAFPN, head: YoloxHead,
                 strides: Sequence[int] = STRIDES):
        super().__init__()
        self.backbone = backbone
        self.neck = neck
        self.head = head
        self.strides = tuple(strides)

    def forward_levels(self, images: Tensor) -> list[Tensor]:
        """Raw outputs per level (stride 8, 16, 32): [N, 4 + 1 + C, H/s, W/s], logits; what a loss takes."""
        features = self.backbone(images)
        pyramid = self.neck(features)
        return self.head(pyramid)

    def forward(self, images: Tensor) -> Tensor:
        """[N, points, 5 + C] as the ONNX export gives it: x, y, w, h in grid units, sigmoid scores.

        points = sum of (H/s)(W/s): 3549 at 416x416. Pass it with `image_size` to `decode_boxes` for pixels.
        """
        return flatten_levels(self.forward_levels(images))


def yolox_nano(num_classes: int = COCO_NUM_CLASSES, width: float = NANO_WIDTH) -> YOLOX:
    """YOLOX-Nano (0.91 M parameters with 80 classes), randomly initialised.

    Another `width` keeps Nano's depth and depthwise blocks with more channels (0.375 is YOLOX-Tiny's
    width); `widen.widen_yolox` fills such a network from a trained Nano.
    """
    backbone = CSPDarknet(NANO_DEPTH, width, depthwise=True)
    neck = PAFPN(backbone.out_channels, NANO_DEPTH, depthwise=True)
    head = YoloxHead(num_classes, neck.out_channels, width, depthwise=True)
    return YOLOX(backbone, neck, head)


def yolox_mobilenet_v2(num_classes: int, frozen_layers: int = DEFAULT_FROZEN_LAYERS, relu6: bool = True) -> YOLOX:
    """MobileNetV2's feature layers (load ImageNet's with `model.backbone.load_imagenet`) under Nano's neck and
    head, randomly initialised: 2.3 M parameters with two classes against Nano's 0.9 M. `relu6=False`: ReLU in
    the feature layers instead of ImageNet's ReLU6."""
    backbone = MobileNetV2Pyramid(frozen_layers, relu6)
    neck = PAFPN(backbone.out_channels, NANO_DEPTH, depthwise=True)
    head = YoloxHead(num_classes, neck.out_channels, NANO_WIDTH, depthwise=True)
    return YOLOX(backbone, neck, head)


def model_width(model: YOLOX) -> float:
    """The width multiplier a network was built with (its stem has 64 x width channels)."""
    return model.backbone.stem.conv.conv.out_channels / STEM_CHANNELS


def state_dict_width(weights: Mapping[str, Tensor]) -> float:
    """The width multiplier of a YOLOX state dict."""
    return weights["backbone.stem.conv.conv.weight"].shape[0] / STEM_CHANNELS


def onnx_width(path: Path) -> float:
    """The width multiplier of a YOLOX ONNX export: its first convolution is the stem's."""
    return read_onnx_convs(path)[0].weight.shape[0] / STEM_CHANNELS


def onnx_activation(path: Path) -> str:
    """The activation of a YOLOX ONNX export's convolutions: "relu" where its graph has ReLU nodes, else YOLOX's
    own SiLU (exported as Sigmoid and Mul)."""
    graph = onnx.load(str(path), load_external_data=False).graph
    return "relu" if any(node.op_type == "Relu" for node in graph.node) else "silu"


def keep_classes(model: YOLOX, class_ids: Sequence[int]) -> YOLOX:
    """Cut the head's classes down to `class_ids` (e.g. [COCO_PERSON]), in place; returns the model.

    Everything else stays, so a COCO-initialised model keeps its scores for those classes exactly.
    """
    keep_head_classes(model.head, class_ids)
    return model


def coco_person_plus(model: YOLOX, new_classes: int) -> YOLOX:
    """Keep COCO `person` as class 0 and add `new_classes` fresh classes after it (e.g. handgun), in place."""
    keep_classes(model, [COCO_PERSON])
    append_classes(model.head, new_classes)
    return model
