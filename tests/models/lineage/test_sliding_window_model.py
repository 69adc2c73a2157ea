"""The window classifier: its window and stride, one cell per window, and the convolutional form's exactness."""

from __future__ import annotations

import pytest
import torch

from gunwatch.models.lineage.sliding_window import WindowClassifier, window_geometry
from gunwatch.training.pretrained import mobilenet_v2_weights_path


@pytest.mark.parametrize(
    ("blocks", "kernel", "window", "stride"),
    # receptive field of valid 3x3 convolutions: stem 3 (stride 2), blocks' depthwise 3x3, the dense layer
    [(8, 2, 91, 16), (8, 3, 107, 16), (7, 3, 75, 8), (4, 2, 23, 4), (2, 1, 7, 2)],
)
def test_the_window_is_the_receptive_field_and_the_stride_the_total_stride(blocks, kernel, window, stride) -> None:
    model = WindowClassifier(width_mult=0.35, trunk_blocks=blocks, head_kernel=kernel, hidden=8)
    assert (model.window, model.stride) == window_geometry(model) == (window, stride)


def test_one_window_gives_one_cell_and_an_image_one_cell_per_window() -> None:
    model = WindowClassifier(width_mult=0.35, hidden=16).eval()
    with torch.no_grad():
        probability, deltas = model(torch.rand(2, 3, 91, 91))
        assert probability.shape == (2, 1, 1) and deltas.shape == (2, 4, 1, 1)
        probability, deltas = model(torch.rand(1, 3, 91 + 16 * 2 + 15, 91 + 16 * 4))
    assert probability.shape == (1, 3, 5) and deltas.shape == (1, 4, 3, 5)
    assert ((probability > 0) & (probability < 1)).all()


def test_every_cell_of_the_whole_image_equals_the_classifier_on_its_windows_crop() -> None:
    torch.manual_seed(0)
    model = WindowClassifier(width_mult=0.35, trunk_blocks=6, head_kernel=2, hidden=16).eval()
    window, stride = model.window, model.stride
    image = torch.rand(1, 3, window + 3 * stride, window + 2 * stride)
    with torch.no_grad():
        probability, deltas = model(image)
        for row in range(probability.shape[1]):
            for col in range(probability.shape[2]):
                y, x = row * stride, col * stride
                p, d = model(image[:, :, y : y + window, x : x + window])
                torch.testing.assert_close(p[0, 0, 0], probability[0, row, col], rtol=1e-5, atol=1e-6)
                torch.testing.assert_close(d[0, :, 0, 0], deltas[0, :, row, col], rtol=1e-5, atol=1e-5)


def test_imagenet_weights_load_into_every_trunk_block() -> None:
    state = torch.load(mobilenet_v2_weights_path(), map_location="cpu", weights_only=True)
    model = WindowClassifier(trunk_blocks=8)
    model.load_imagenet(state)  # strict: every trunk key is filled
    torch.testing.assert_close(model.trunk[0].block[0].weight, state["features.0.0.weight"])
    torch.testing.assert_close(model.trunk[7].block.conv[3].weight, state["features.7.conv.3.weight"])
    assert all(conv.padding == (0, 0) for conv in model.modules() if isinstance(conv, torch.nn.Conv2d))
