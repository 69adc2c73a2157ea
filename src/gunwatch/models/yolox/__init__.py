"""YOLOX-Nano (Ge et al. 2021, "YOLOX: Exceeding YOLO Series in 2021"; Megvii, Apache-2.0), written here.

The network only: CSPDarknet backbone -> PAFPN neck -> decoupled head, built from the small blocks in
`blocks.py` and put together by `YOLOX(backbone, neck, head)`. Loss and label assignment live in
`gunwatch.training.yolox_loss`.

- `yolox_nano(num_classes=80)` builds the Nano variant (depth 0.33, width 0.25, depthwise convolutions);
  `width=` builds the same layout wider, and `widen.widen_yolox` fills it from a trained Nano.
- `model.yolox_mobilenet_v2(num_classes)` puts ImageNet's MobileNetV2 (`mobilenet_backbone.py`) under Nano's neck
  and head: the same input and output, another backbone.
- `load_yolox_onnx_weights(model, path)` loads the COCO weights of the batch-norm-folded ONNX export.
- `YOLOX.forward(images)` takes BGR pixel values 0..255 (no mean/std), letterboxed, sides a multiple of 32,
  and returns `[N, points, 5 + num_classes]` exactly like the ONNX file: x, y, w, h still in grid units,
  objectness and class scores sigmoid-ed. `decode_boxes` turns x, y, w, h into pixels.
- `keep_classes(model, [0])` cuts the 80 COCO classes down to the given ones (0 = person) for fine-tuning;
  `coco_person_plus(model, 1)` keeps person and adds one new class (handgun) after it.
"""

from gunwatch.models.yolox.head import YoloxHead, decode_boxes, flatten_levels
from gunwatch.models.yolox.model import YOLOX, coco_person_plus, keep_classes, yolox_nano
from gunwatch.models.yolox.onnx_weights import load_yolox_onnx_weights

__all__ = [
    "YOLOX",
    "YoloxHead",
    "coco_person_plus",
    "decode_boxes",
    "flatten_levels",
    "keep_classes",
    "load_yolox_onnx_weights",
    "yolox_nano",
]
