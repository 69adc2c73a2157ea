"""Widening a trained YOLOX (Net2WiderNet): the wide network computes what the narrow one computes."""

from __future__ import annotations

import copy

import pytest

torch = pytest.importorskip("torch")

from gunwatch.models.yolox import YOLOX, coco_person_plus, yolox_nano  # noqa: E402
from gunwatch.models.yolox.blocks import BaseConv, model_activation, use_activation  # noqa: E402
from gunwatch.models.yolox.model import model_width, state_dict_width  # noqa: E402
from gunwatch.models.yolox.widen import channel_map, concat_maps, widen_yolox  # noqa: E402

TINY_WIDTH = 0.375


pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture(scope="module")
def trained_like() -> YOLOX:
    """A person + handgun Nano whose batch norms hold varied statistics and scales, as a trained one's do."""
    generator = torch.Generator().manual_seed(0)
    torch.manual_seed(0)
    model = coco_person_plus(yolox_nano(), 1)
    with torch.no_grad():
        for layer in model.modules():
            if isinstance(layer, BaseConv):
                channels = layer.bn.num_features
                layer.bn.running_mean.copy_(torch.rand(channels, generator=generator) * 2 - 1)
                layer.bn.running_var.copy_(torch.rand(channels, generator=generator) * 1.5 + 0.5)
                layer.bn.weight.copy_(torch.rand(channels, generator=generator) + 0.5)
                layer.bn.bias.copy_(torch.rand(channels, generator=generator) - 0.5)
    return model.eval()


def images(batch: int = 2) -> torch.Tensor:
    return torch.rand(batch, 3, 96, 128, generator=torch.Generator().manual_seed(1)) * 255


def test_the_widened_network_computes_the_same_outputs(trained_like: YOLOX) -> None:
    wide = widen_yolox(trained_like, TINY_WIDTH).eval()
    with torch.no_grad():
        expected, got = trained_like(images()), wide(images())
    torch.testing.assert_close(got, expected, atol=1e-5, rtol=1e-4)
    assert model_width(wide) == TINY_WIDTH
    assert sum(p.numel() for p in wide.parameters()) > 2 * sum(p.numel() for p in trained_like.parameters())


def test_it_has_the_layout_of_a_network_built_at_that_width(trained_like: YOLOX) -> None:
    wide = widen_yolox(trained_like, TINY_WIDTH)
    built = coco_person_plus(yolox_nano(width=TINY_WIDTH), 1)
    shapes = {name: tuple(value.shape) for name, value in wide.state_dict().items()}
    assert shapes == {name: tuple(value.shape) for name, value in built.state_dict().items()}
    assert state_dict_width(wide.state_dict()) == TINY_WIDTH


def test_with_batch_statistics_in_training_too(trained_like: YOLOX) -> None:
    # Copies of a channel see the same batch statistics, so training starts from the narrow network's function.
    narrow = trained_like.train()
    wide = widen_yolox(narrow, TINY_WIDTH)
    assert wide.training
    try:
        with torch.no_grad():
            expected, got = narrow(images(4)), wide(images(4))
    finally:
        trained_like.eval()
    torch.testing.assert_close(got, expected, atol=1e-3, rtol=1e-3)


def test_copies_of_a_channel_start_equal_but_learn_apart(trained_like: YOLOX) -> None:
    wide = widen_yolox(trained_like, TINY_WIDTH).eval()
    narrow_channels = trained_like.backbone.stem.conv.conv.out_channels  # 16; wide channel 16 copies channel 0
    stem = wide.backbone.stem.conv.conv.weight
    torch.testing.assert_close(stem[narrow_channels], stem[0])  # the copy's filter is its channel's
    # The layer reading both copies splits the weight between them, differently per output channel.
    reader = wide.backbone.dark2[0].dconv.conv.weight  # depthwise: copies its channel's filter
    torch.testing.assert_close(reader[narrow_channels], reader[0])
    pointwise = wide.backbone.dark2[0].pconv.conv.weight[:, :, 0, 0]
    assert not torch.allclose(pointwise[:, narrow_channels], pointwise[:, 0])
    narrow_pointwise = trained_like.backbone.dark2[0].pconv.conv.weight[:, :, 0, 0]
    torch.testing.assert_close(pointwise[:32, narrow_channels] + pointwise[:32, 0], narrow_pointwise[:, 0])

    wide(images()).sum().backward()
    gradient = wide.backbone.stem.conv.conv.weight.grad
    assert not torch.allclose(gradient[narrow_channels], gradient[0])


def test_the_same_seed_widens_the_same_way(trained_like: YOLOX) -> None:
    first, second = widen_yolox(trained_like, TINY_WIDTH, seed=3), widen_yolox(trained_like, TINY_WIDTH, seed=3)
    for (name, a), b in zip(first.state_dict().items(), second.state_dict().values(), strict=True):
        assert torch.equal(a, b), name


def test_a_narrower_width_is_refused(trained_like: YOLOX) -> None:
    with pytest.raises(ValueError, match="narrower"):
        widen_yolox(trained_like, 0.125)


def test_channel_maps_copy_channels_in_turn_and_concatenations_offset_their_parts() -> None:
    assert channel_map(4, 6).tolist() == [0, 1, 2, 3, 0, 1]
    assert channel_map(4, 4).tolist() == [0, 1, 2, 3]
    assert concat_maps((channel_map(2, 3), 2), (channel_map(3, 4), 3)).tolist() == [0, 1, 0, 2, 3, 4, 2]


def test_a_relu_network_widens_to_a_relu_network_computing_the_same(trained_like: YOLOX) -> None:
    narrow = use_activation(copy.deepcopy(trained_like), "relu").eval()
    wide = widen_yolox(narrow, TINY_WIDTH).eval()
    assert model_activation(wide) == "relu"
    with torch.no_grad():
        torch.testing.assert_close(wide(images()), narrow(images()), atol=1e-5, rtol=1e-4)
