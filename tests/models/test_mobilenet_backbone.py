"""ImageNet MobileNetV2 as a YOLOX backbone: what the three levels carry, that a BGR picture reaches ImageNet's
layers as the RGB, normalised picture they were trained on, the wheel's layout loading into it, and layers kept
frozen through a training step."""

from __future__ import annotations

import re

import pytest

torch = pytest.importorskip("torch")

from gunwatch.models.localizer import IMAGENET_MEAN, IMAGENET_STD  # noqa: E402
from gunwatch.models.mobilenet_v2 import MobileNetV2Features  # noqa: E402
from gunwatch.models.yolox.mobilenet_backbone import OUT_CHANNELS, MobileNetV2Pyramid  # noqa: E402
from gunwatch.models.yolox.model import yolox_mobilenet_v2  # noqa: E402

pytestmark = pytest.mark.usefixtures("one_thread")


def randomised(module: torch.nn.Module) -> torch.nn.Module:
    """Weights and batch-norm statistics drawn at random, so a wrong mapping cannot pass by chance."""
    generator = torch.Generator().manual_seed(0)
    with torch.no_grad():
        for name, tensor in module.state_dict().items():
            if tensor.is_floating_point() and name not in ("mean", "std"):
                tensor.copy_(torch.rand(tensor.shape, generator=generator) + 0.5 if name.endswith("running_var")
                             else torch.randn(tensor.shape, generator=generator) * 0.1)
    return module


def test_the_three_levels_are_at_strides_8_16_32_with_nanos_widths() -> None:
    pyramid = MobileNetV2Pyramid().eval()
    with torch.no_grad():
        levels = pyramid(torch.rand(2, 3, 128, 96) * 255)
    assert [tuple(level.shape) for level in levels] == [(2, c, 128 // s, 96 // s)
                                                        for c, s in zip(OUT_CHANNELS, (8, 16, 32), strict=True)]
    with torch.no_grad():
        outputs = yolox_mobilenet_v2(num_classes=2).eval()(torch.rand(1, 3, 416, 416) * 255)
    assert outputs.shape == (1, 3549, 7)  # the layout every YOLOX export here has: Nano's runtime takes it


def test_a_bgr_picture_reaches_imagenets_layers_as_the_normalised_rgb_picture() -> None:
    imagenet = randomised(MobileNetV2Features()).eval()
    pyramid = MobileNetV2Pyramid().eval()
    pyramid.load_imagenet(imagenet.state_dict())
    seen = {}
    pyramid.features[-1].register_forward_hook(lambda module, args, output: seen.update(stride32=output))
    rgb = torch.rand(1, 3, 64, 64)
    with torch.no_grad():
        pyramid(rgb.flip(1) * 255)  # BGR 0..255, as the runtime letterboxes it
        expected = imagenet.features[:18]((rgb - torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1))
                                          / torch.tensor(IMAGENET_STD).view(1, 3, 1, 1))
    torch.testing.assert_close(seen["stride32"], expected, rtol=1e-4, atol=1e-4)


def test_the_wheels_layout_loads_one_to_one_without_the_classifiers_layer() -> None:
    state = randomised(MobileNetV2Features()).state_dict()  # the wheel's keys, layer 18 (to 1280) among them
    pyramid = MobileNetV2Pyramid()
    pyramid.load_imagenet(state)
    loaded = pyramid.state_dict()
    kept = [key for key in state if int(key.split(".")[1]) <= 17]
    assert kept and all(torch.equal(state[key], loaded[key]) for key in kept)
    assert not any(key.startswith("features.18.") for key in loaded)
    del state["features.14.conv.0.weight"]
    with pytest.raises(ValueError, match=re.escape("features.14.conv.0.weight")):
        pyramid.load_imagenet(state)


def test_frozen_layers_keep_their_weights_and_statistics_through_a_training_step() -> None:
    model = randomised(yolox_mobilenet_v2(num_classes=2, frozen_layers=7)).train()
    before = {key: value.clone() for key, value in model.state_dict().items()}
    optimiser = torch.optim.SGD([p for p in model.parameters() if p.requires_grad], lr=0.1)
    loss = sum(level.square().mean() for level in model.forward_levels(torch.rand(2, 3, 64, 64) * 255))
    loss.backward()
    optimiser.step()
    after = model.state_dict()
    changed = {key for key in before if not torch.equal(before[key], after[key])}
    frozen = {key for key in before if re.match(r"backbone\.features\.[0-6]\.", key)}
    assert frozen and not changed & frozen  # weights and running statistics alike
    assert any(key.startswith("backbone.features.7.") for key in changed)
    assert any(key.startswith("head.") for key in changed)


def test_frozen_layers_must_exist() -> None:
    with pytest.raises(ValueError, match="frozen_layers"):
        MobileNetV2Pyramid(frozen_layers=19)


def test_relu_instead_of_relu6_changes_only_the_activations_ceiling() -> None:
    capped = randomised(MobileNetV2Pyramid()).eval()
    uncapped = MobileNetV2Pyramid(relu6=False).eval()
    uncapped.load_state_dict(capped.state_dict())
    assert not any(isinstance(m, torch.nn.ReLU6) for m in uncapped.modules())
    assert (sum(isinstance(m, torch.nn.ReLU) for m in uncapped.modules())
            == sum(isinstance(m, torch.nn.ReLU6) for m in capped.modules()))
    first = uncapped.features[0]  # the stem convolution: its ReLU sees values above 6 from a bright picture
    with torch.no_grad():
        for module in (capped, uncapped):
            module.features[0][0].weight.mul_(50)
        picture = torch.rand(1, 3, 32, 32) * 255
        assert first(picture).max() > 6
        assert capped.features[0](picture).max() <= 6
        torch.testing.assert_close(uncapped.features[0](picture).clamp(max=6), capped.features[0](picture))


def test_a_relu_backbone_exports_pairs_that_int8_equalisation_rescales_computing_the_same(tmp_path) -> None:
    onnx = pytest.importorskip("onnx")
    ort = pytest.importorskip("onnxruntime")
    import numpy as np

    from gunwatch.inference.equalize import equalize, relu_conv_pairs
    from gunwatch.training.export import export_yolox

    def exported(relu6: bool):
        model = randomised(yolox_mobilenet_v2(num_classes=2, relu6=relu6))
        return onnx.load(str(export_yolox(model, 64, tmp_path / f"relu6-{relu6}.onnx", ("person", "handgun"))))

    def backbone_pairs(graph) -> int:
        return sum(conv.name.startswith("/backbone/features.") for conv, _, _ in relu_conv_pairs(graph))

    assert backbone_pairs(exported(relu6=True)) == 0
    graph = exported(relu6=False)
    assert backbone_pairs(graph) >= 16  # at least one pair in each of the 16 inverted residuals kept
    images = np.random.default_rng(0).uniform(0, 255, (2, 3, 64, 64)).astype(np.float32)
    equalised, count = equalize(graph, [{"images": images}])
    assert count >= backbone_pairs(graph)

    def run(model) -> np.ndarray:
        session = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
        return session.run(None, {"images": images})[0]

    np.testing.assert_allclose(run(equalised), run(graph), rtol=1e-3, atol=1e-3)
