"""INT8 quantisation of a YOLOX export: parity with FP32 on a fixture graph, metadata, free axes, provenance."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import onnx
import pytest
from PIL import Image

from gunwatch.checksums import sha256_of
from gunwatch.data.images import load_rgb
from gunwatch.inference.loading import load_detector
from gunwatch.inference.onnx_session import ModelError, gunwatch_metadata, open_session
from gunwatch.inference.onnx_yolox import OnnxYolox
from gunwatch.inference.quantize import (
    CalibrationImages,
    images_per_pass,
    quantize_yolox,
    quantized_from,
    source_metadata,
)
from support.int8_weights import int8_weights
from support.yolox_graph import yolox_graph

# The fixture graph's raw outputs, INT8 against FP32 on images the calibration never saw: probabilities
# (objectness, classes) differ by 0.005 on average and 0.025 at most, box offsets (grid cells, log sizes)
# by 0.02 on average. What a broken copy would be off by, measured on the same graph: calibrated on RGB
# instead of BGR 0.037 and 0.17, a constant grey image 0.033 and 0.16, pixels scaled to 0..1 0.09 and 0.27.
MEAN_PROBABILITY_TOLERANCE = 0.015
MAX_PROBABILITY_TOLERANCE = 0.08
MEAN_BOX_TOLERANCE = 0.06


def noise_images(folder: Path, count: int, seed: int) -> list[Path]:
    """Noise images of several sizes and aspects, the distribution the fixture's batch norms saw."""
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for index in range(count):
        height, width = [(120, 160), (160, 96), (128, 128)][index % 3]
        pixels = rng.integers(0, 256, (height, width, 3), dtype=np.uint8)
        paths.append(folder / f"{index}.png")
        Image.fromarray(pixels).save(paths[-1])
    return paths


@pytest.fixture(scope="module")
def fp32_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return yolox_graph(tmp_path_factory.mktemp("fp32") / "tiny-yolox.onnx", input_size=64, threshold=0.4)


@pytest.fixture(scope="module")
def int8_model(fp32_model: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("int8")
    images = noise_images(folder / "calibration", 8, seed=0)
    return quantize_yolox(fp32_model, images, folder / "tiny-yolox-int8.onnx", "minmax")


def raw_outputs(model: Path, batch: np.ndarray) -> np.ndarray:
    session = open_session(model, threads=1)
    return session.run(None, {session.get_inputs()[0].name: batch})[0]


def test_int8_outputs_stay_close_to_fp32(fp32_model: Path, int8_model: Path, tmp_path: Path) -> None:
    fp32 = load_detector(fp32_model)
    assert isinstance(fp32, OnnxYolox)
    # Images the calibration never saw, through the runtime's own preprocessing.
    batch, _ = fp32.input_batch([load_rgb(path) for path in noise_images(tmp_path, 4, seed=1)])
    expected, actual = raw_outputs(fp32_model, batch), raw_outputs(int8_model, batch)
    assert actual.shape == expected.shape
    probabilities = np.abs(actual[..., 4:] - expected[..., 4:])
    assert probabilities.mean() < MEAN_PROBABILITY_TOLERANCE
    assert probabilities.max() < MAX_PROBABILITY_TOLERANCE
    assert np.abs(actual[..., :4] - expected[..., :4]).mean() < MEAN_BOX_TOLERANCE


def test_the_graph_is_int8(int8_model: Path) -> None:
    model = onnx.load(str(int8_model))
    ops = {node.op_type for node in model.graph.node}
    assert {"QuantizeLinear", "DequantizeLinear"} <= ops
    weights = [node for node in model.graph.node if node.op_type == "DequantizeLinear"
               and any(init.name == node.input[0] and init.data_type == onnx.TensorProto.INT8
                       for init in model.graph.initializer)]
    # Per-channel: a convolution's weights carry one scale per output channel.
    scales = {init.name: init for init in model.graph.initializer}
    assert any(len(scales[node.input[1]].dims) == 1 and scales[node.input[1]].dims[0] > 1 for node in weights)


def test_weights_use_seven_bits_so_no_cpu_saturates_them(int8_model: Path) -> None:
    # Without VNNI the u8 x s8 kernels add two products in 16 bits: 8-bit weights can overflow it (255 x 127 x 2
    # > 32767) and the copy then scores differently on such a CPU; 7-bit ones cannot (255 x 64 x 2 < 32767).
    weights = int8_weights(int8_model)
    assert weights and all(w.size > 1 for w in weights)
    largest = max(int(np.abs(w.astype(np.int32)).max()) for w in weights)
    assert 32 < largest <= 64  # the 7 bits (symmetric: -64..64) are used, and no more
    assert "7-bit" in source_metadata(int8_model)["gunwatch.quantization"]


def test_metadata_is_kept_and_the_source_recorded(fp32_model: Path, int8_model: Path) -> None:
    source, quantized = source_metadata(fp32_model), source_metadata(int8_model)
    assert {key: quantized[key] for key in source} == source  # every gunwatch.* entry, threshold included
    assert quantized["gunwatch.precision"] == "int8"
    assert quantized["gunwatch.source_model"] == fp32_model.name
    assert quantized["gunwatch.source_sha256"] == sha256_of(fp32_model)
    assert "minmax calibration on 8 images" in quantized["gunwatch.quantization"]
    assert load_detector(int8_model).threshold == pytest.approx(0.4)


def test_free_batch_and_input_size_still_work(int8_model: Path, tmp_path: Path) -> None:
    images = [load_rgb(path) for path in noise_images(tmp_path, 3, seed=2)]
    for side in (96, 128, 160):
        detector = load_detector(int8_model, input_size=side)
        batched = detector.detect(images)
        singles = [detector.detect([image])[0] for image in images]
        for together, alone, image in zip(batched, singles, images, strict=True):
            np.testing.assert_allclose(together.xyxy, alone.xyxy, atol=1e-3)
            np.testing.assert_allclose(together.scores, alone.scores, atol=1e-5)
            assert together.xyxy.size == 0 or together.xyxy[:, 2].max() <= image.shape[1]
    assert load_detector(int8_model, tiles="on").detect(images[:1])[0].scores.size >= 0


def test_calibration_sees_the_runtime_pixels(fp32_model: Path, tmp_path: Path) -> None:
    detector = load_detector(fp32_model)
    assert isinstance(detector, OnnxYolox)
    paths = noise_images(tmp_path, 3, seed=3)
    served: list[int] = []
    reader = CalibrationImages(detector, paths, on_image=lambda: served.append(1))
    feeds = list(reader)
    assert len(feeds) == 3 == len(served)
    expected, _ = detector.input_batch([load_rgb(paths[1])])
    np.testing.assert_array_equal(feeds[1][detector.input_name], expected)
    reader.set_range(2, 3)  # ORT calibrates in passes
    assert len(list(reader)) == 1


@pytest.mark.parametrize(("count", "per_pass"), [(200, 8), (64, 8), (30, 6), (7, 7), (13, 1)])
def test_calibration_passes_divide_the_images(count: int, per_pass: int) -> None:
    assert images_per_pass(count) == per_pass


def test_quantized_from_finds_the_unchanged_source(fp32_model: Path, int8_model: Path,
                                                   tmp_path: Path) -> None:
    assert quantized_from(fp32_model) is None  # an FP32 file
    assert quantized_from(int8_model) is None  # its source lies elsewhere
    shutil.copy(fp32_model, tmp_path / fp32_model.name)
    shutil.copy(int8_model, tmp_path / "int8.onnx")
    assert quantized_from(tmp_path / "int8.onnx") == tmp_path / fp32_model.name
    # A source retrained since: the INT8 file is stale and no longer names it.
    with (tmp_path / fp32_model.name).open("ab") as stream:
        stream.write(b"\0")
    assert quantized_from(tmp_path / "int8.onnx") is None


def test_the_fp32_alarm_threshold_is_not_carried_over(fp32_model: Path, tmp_path: Path) -> None:
    source = tmp_path / "with-alarm.onnx"
    model = onnx.load(str(fp32_model))
    model.metadata_props.add(key="gunwatch.alarm_threshold", value="0.3")
    onnx.save(model, str(source))
    int8 = quantize_yolox(source, noise_images(tmp_path / "calibration", 2, seed=6), tmp_path / "int8.onnx")
    assert "gunwatch.alarm_threshold" not in source_metadata(int8)  # measured for the FP32 scores only
    assert source_metadata(int8)["gunwatch.threshold"] == "0.4"


def test_only_fp32_yolox_models_are_quantised(int8_model: Path, tmp_path: Path) -> None:
    images = noise_images(tmp_path, 2, seed=4)
    with pytest.raises(ModelError, match="already quantised"):
        quantize_yolox(int8_model, images, tmp_path / "out.onnx")
    with pytest.raises(ValueError, match="calibration method"):
        quantize_yolox(int8_model, images, tmp_path / "out.onnx", method="mse")
    assert gunwatch_metadata(open_session(int8_model))["gunwatch.kind"] == "yolox"


def test_a_localizer_is_not_quantised(tiny_localizer_onnx: Path, tmp_path: Path) -> None:
    with pytest.raises(ModelError, match="only YOLOX exports"):
        quantize_yolox(tiny_localizer_onnx, noise_images(tmp_path, 2, seed=5), tmp_path / "out.onnx")


def test_nodes_kept_in_float_keep_their_float_weights(fp32_model: Path, tmp_path: Path) -> None:
    convs = [node.name for node in onnx.load(str(fp32_model)).graph.node if node.op_type == "Conv"]
    kept = convs[0]
    images = noise_images(tmp_path / "calibration", 4, seed=0)
    out = quantize_yolox(fp32_model, images, tmp_path / "mixed.onnx", "minmax", keep_float=[kept])
    mixed = onnx.load(str(out))
    by_name = {node.name: node for node in mixed.graph.node}
    producer = {output: node for node in mixed.graph.node for output in node.output}
    initializers = {init.name for init in mixed.graph.initializer}
    # The kept convolution reads its weight straight from a float initializer; the others through Dequantize.
    assert by_name[kept].input[1] in initializers
    assert all(producer[by_name[name].input[1]].op_type == "DequantizeLinear" for name in convs[1:])
    assert "1 nodes kept in float" in gunwatch_metadata(open_session(out, threads=1))["gunwatch.quantization"]
    with pytest.raises(ValueError, match="no-such-node"):
        quantize_yolox(fp32_model, images, tmp_path / "bad.onnx", "minmax", keep_float=["no-such-node"])
