"""Cross-layer equalisation: the network computes the same, its channels' activation ranges come out even."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import numpy_helper

from gunwatch.inference.equalize import channel_ranges, equalization_scales, equalize, relu_conv_pairs
from gunwatch.inference.onnx_session import RECIPE_KEY, open_session
from gunwatch.inference.quantize import quantize_yolox, source_metadata
from support.yolox_graph import yolox_graph


def feeds(count: int, seed: int, side: int = 64) -> list[dict[str, np.ndarray]]:
    rng = np.random.default_rng(seed)
    return [{"images": rng.uniform(0, 255, (1, 3, side, side)).astype(np.float32)} for _ in range(count)]


def run(model: onnx.ModelProto, feed: dict[str, np.ndarray]) -> np.ndarray:
    import onnxruntime as ort

    session = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    return session.run(None, feed)[0]


@pytest.fixture(scope="module")
def relu_graph(tmp_path_factory: pytest.TempPathFactory) -> onnx.ModelProto:
    path = yolox_graph(tmp_path_factory.mktemp("relu") / "relu.onnx", activation="relu")
    model = onnx.load(str(path))
    # Channels of very different sizes, as a trained network's are: each conv's output channels scaled apart.
    rng = np.random.default_rng(3)
    tensors = {t.name: t for t in model.graph.initializer}
    for conv, _, _ in relu_conv_pairs(model):
        for name in conv.input[1:3]:
            value = numpy_helper.to_array(tensors[name])
            spread = np.exp(rng.uniform(-2.5, 2.5, value.shape[0])).reshape(-1, *[1] * (value.ndim - 1))
            tensors[name].CopyFrom(numpy_helper.from_array((value * spread).astype(np.float32), name))
    return model


def weight(model: onnx.ModelProto, name: str) -> np.ndarray:
    return numpy_helper.to_array(next(t for t in model.graph.initializer if t.name == name))


def test_the_equalised_network_computes_the_same(relu_graph: onnx.ModelProto) -> None:
    equalized, pairs = equalize(relu_graph, feeds(4, seed=0))
    assert pairs == len(relu_conv_pairs(relu_graph)) == 8  # every Relu of the fixture feeds convolutions only
    for feed in feeds(2, seed=1):
        expected = run(relu_graph, feed)
        # Float32 rounding of the largest outputs (about 2,500) reaches small ones through the sums: a few units
        # in the last place of the largest (1e-6 of it, 2.5e-3) on any CPU; on an AVX2 one the fixed 1e-4 was
        # missed by 4e-4 on one output of 588. One channel's scale 5 % off moves outputs by 0.09-0.30.
        np.testing.assert_allclose(run(equalized, feed), expected, rtol=1e-4, atol=1e-6 * np.abs(expected).max())


def test_channels_read_by_a_depthwise_conv_come_out_equal(relu_graph: onnx.ModelProto) -> None:
    calibration = feeds(4, seed=0)
    equalized, _ = equalize(relu_graph, calibration)
    before = channel_ranges(relu_graph, ["down4.relu"], calibration)["down4.relu"]  # read by dw8 alone
    after = channel_ranges(equalized, ["down4.relu"], calibration)["down4.relu"]
    assert before.max() / before.min() > 10
    alive = before > 1e-6
    np.testing.assert_allclose(after[alive], before.max(), rtol=1e-3)


def test_channels_read_by_a_dense_conv_share_their_range_with_its_weights(relu_graph: onnx.ModelProto) -> None:
    calibration = feeds(4, seed=0)
    equalized, _ = equalize(relu_graph, calibration)
    # stem -> relu -> down4 (3 x 3, dense): activation range / weight range is the same for every channel.
    before = channel_ranges(relu_graph, ["stem.relu"], calibration)["stem.relu"]
    after = channel_ranges(equalized, ["stem.relu"], calibration)["stem.relu"]
    ratio = after / np.abs(weight(equalized, "down4.w")).max(axis=(0, 2, 3))
    alive = before > 1e-6
    np.testing.assert_allclose(ratio[alive], ratio[alive][0], rtol=1e-3)
    assert (after[alive].max() / after[alive].min()) < (before[alive].max() / before[alive].min()) / 3


def test_the_scales_balance_a_channel_between_activation_and_weight() -> None:
    activation = np.array([100.0, 1.0, 0.0, 4.0])
    dense = np.ones((2, 4, 1, 1))
    dense[:, 3] = 4.0
    scales = equalization_scales(activation, [(dense, 1)])
    balanced = activation / scales, np.abs(dense).max(axis=(0, 2, 3)) * scales
    np.testing.assert_allclose((balanced[0] / balanced[1])[[0, 1, 3]], (balanced[0] / balanced[1])[0])
    assert scales[2] == 1.0  # a dead channel keeps its weights
    np.testing.assert_allclose(equalization_scales(activation, [(np.ones((4, 1, 3, 3)), 4)]),
                               [1.0, 0.01, 1.0, 0.04])  # depthwise only: every live channel to the largest range


def test_a_silu_network_has_nothing_to_equalise(tmp_path: Path) -> None:
    model = onnx.load(str(yolox_graph(tmp_path / "silu.onnx")))
    equalized, pairs = equalize(model, feeds(1, seed=0))
    assert pairs == 0
    assert [numpy_helper.to_array(t).tobytes() for t in equalized.graph.initializer] == \
        [numpy_helper.to_array(t).tobytes() for t in model.graph.initializer]


def test_a_relu_detectors_int8_copy_is_equalised_and_says_so(tmp_path: Path) -> None:
    from PIL import Image

    source = yolox_graph(tmp_path / "relu.onnx", activation="relu")
    rng = np.random.default_rng(0)
    images = []
    for index in range(4):
        images.append(tmp_path / f"{index}.png")
        Image.fromarray(rng.integers(0, 256, (64, 64, 3), dtype=np.uint8)).save(images[-1])
    int8 = quantize_yolox(source, images, tmp_path / "relu-int8.onnx", "minmax")
    assert "8 Conv-ReLU-Conv pairs equalised on 4 of them" in source_metadata(int8)[RECIPE_KEY]
    session = open_session(int8, threads=1)
    assert session.run(None, feeds(1, seed=2)[0])[0].shape == run(onnx.load(str(source)), feeds(1, seed=2)[0]).shape
