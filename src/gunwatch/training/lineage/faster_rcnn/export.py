"""The trained Faster R-CNN to ONNX: torchvision's eval graph, resize and normalisation included.

The recipe of torchvision's own test_onnx.py: the model in eval mode, traced on a list with one image
tensor, height and width free axes (the resize to the input scale happens inside the graph, so any image
size goes in and boxes come back in its pixels), the detections' count a free axis too.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import onnxruntime as ort
import torch
from torchvision.models.detection import FasterRCNN

from gunwatch import GUN_LABEL
from gunwatch.models.lineage.faster_rcnn import (
    STRIDE,
    FasterRcnnSettings,
    build_faster_rcnn,
    settings_from_dict,
)
from gunwatch.training.checkpoints import load_checkpoint
from gunwatch.training.export import OPSET, write_metadata

KIND = "faster-rcnn"
OUTPUTS = ("boxes", "labels", "scores")


def faster_rcnn_from_checkpoint(path: Path) -> tuple[FasterRCNN, FasterRcnnSettings, float]:
    """The network of a checkpoint (anchors and sizes from the checkpoint itself), in eval mode, and its width."""
    state = load_checkpoint(path)
    settings = settings_from_dict(state["settings"])
    width_mult = float(state["config"]["width_mult"])
    model = build_faster_rcnn(settings, width_mult)
    model.load_state_dict(state["model"])
    return model.eval(), settings, width_mult


def export_faster_rcnn(model: FasterRCNN, settings: FasterRcnnSettings, path: Path,
                       metadata: dict[str, str] | None = None) -> Path:
    """ONNX graph: `image` 3 x H x W RGB 0..1 (any H, W) -> `boxes` D x 4 xyxy in the image's pixels,
    `labels` D (1 = handgun), `scores` D, at most `box_detections_per_img`, each class after NMS."""
    path.parent.mkdir(parents=True, exist_ok=True)
    example = torch.rand(3, settings.max_size * 3 // 4, settings.max_size, generator=torch.Generator().manual_seed(0))
    free = {0: "detections"}
    with warnings.catch_warnings():
        # The tracer warns about every shape it records as a constant; torchvision writes those parts for ONNX.
        warnings.simplefilter("ignore")
        torch.onnx.export(
            model.eval(),
            ([example],),
            str(path),
            input_names=["image"],
            output_names=list(OUTPUTS),
            dynamic_axes={"image": {1: "height", 2: "width"}, **{name: free for name in OUTPUTS}},
            opset_version=OPSET,
            dynamo=False,
        )
    write_metadata(path, {
        "gunwatch.kind": KIND,
        "gunwatch.classes": GUN_LABEL,
        "gunwatch.input_size": str(settings.max_size),
        "gunwatch.min_size": str(settings.min_size),
        "gunwatch.max_size": str(settings.max_size),
        "gunwatch.proposals_per_image": str(settings.rpn_post_nms_top_n_test),
        "gunwatch.anchor_sizes": ",".join(map(str, settings.anchors.sizes)),
        "gunwatch.anchor_ratios": ",".join(map(str, settings.anchors.ratios)),
        "gunwatch.backbone": f"MobileNetV2 ImageNet, stride {STRIDE}",
        **(metadata or {}),
    })
    return path


@torch.no_grad()
def parity(model: FasterRCNN, path: Path, image: torch.Tensor) -> dict[str, float]:
    """Largest difference between PyTorch and ONNX Runtime on one 3 x H x W image (NaN: counts differ)."""
    expected = model.eval()([image])[0]
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    got = dict(zip(OUTPUTS, session.run(None, {"image": image.numpy()}), strict=True))
    result = {}
    for name in ("boxes", "scores"):
        want = expected[name].numpy()
        same_shape = want.shape == got[name].shape
        result[name] = float(np.abs(want - got[name]).max(initial=0.0)) if same_shape else float("nan")
    result["labels"] = float(not np.array_equal(expected["labels"].numpy(), got["labels"]))  # 1: they differ
    return result
