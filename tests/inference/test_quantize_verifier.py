"""INT8 quantisation of a gun verifier: parity with FP32 on a convolutional fixture graph, the metadata that pairs
it with its detector kept, the live alarm threshold left for the alarm benchmark to measure again."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
import pytest

from gunwatch.inference.onnx_session import ModelError, gunwatch_metadata
from gunwatch.inference.quantize import CROPS_PER_BATCH, quantize_verifier
from gunwatch.inference.verifier import OnnxGunVerifier
from support.int8_weights import int8_weights
from support.verifier_graph import write_conv_verifier

SHA = "ab" * 32
# Probabilities of the fixture, INT8 against FP32 on crops the calibration never saw: 0.0008 on average and
# 0.002 at most, measured. A copy calibrated on crops of another kind (near black: pixels scaled to 0..1) is off
# by 0.27 on average and 0.35 at most.
MEAN_TOLERANCE = 0.01
MAX_TOLERANCE = 0.05


def crops(count: int, seed: int, side: int = 32) -> np.ndarray:
    """Crops with structure, not only noise: smooth gradients, a bright bar at random places, noise on top."""
    rng = np.random.default_rng(seed)
    ramp = np.linspace(0, 200, side, dtype=np.float32)
    out = np.empty((count, side, side, 3), np.float32)
    for index in range(count):
        out[index] = ramp[None, :, None] * rng.uniform(0.3, 1.0, 3)
        y, x = rng.integers(0, side - 8, 2)
        out[index, y : y + 6, x : x + 8] = rng.uniform(150, 255, 3)
    out += rng.normal(0, 12, out.shape)
    return np.clip(out, 0, 255).astype(np.uint8)


@pytest.fixture(scope="module")
def models(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    folder = tmp_path_factory.mktemp("verifier")
    fp32 = write_conv_verifier(folder / "verifier.onnx", SHA)
    return fp32, quantize_verifier(fp32, crops(64, seed=0), folder / "verifier-int8.onnx", "minmax")


def test_int8_opinions_stay_close_to_fp32(models: tuple[Path, Path]) -> None:
    fp32, int8 = (OnnxGunVerifier.load(path, threads=1) for path in models)
    unseen = crops(48, seed=1)
    expected, actual = fp32.judge(unseen), int8.judge(unseen)
    assert expected.std() > 0.02  # the fixture's opinions differ between crops: parity means something
    difference = np.abs(actual - expected)
    assert difference.mean() < MEAN_TOLERANCE and difference.max() < MAX_TOLERANCE


def test_the_copy_is_int8_and_keeps_its_pairing_but_not_its_alarm_threshold(models: tuple[Path, Path]) -> None:
    fp32, int8 = models
    graph = onnx.load(str(int8)).graph
    assert any(node.op_type == "QuantizeLinear" for node in graph.node)
    assert sum(init.data_type == onnx.TensorProto.INT8 for init in graph.initializer) >= 3  # the convs' weights
    source = gunwatch_metadata(OnnxGunVerifier.load(fp32).session)
    copy = gunwatch_metadata(OnnxGunVerifier.load(int8).session)
    for key in ("gunwatch.kind", "gunwatch.detector_sha256", "gunwatch.input_size", "gunwatch.context",
                "gunwatch.floor", "gunwatch.top_k", "gunwatch.detector_weight", "gunwatch.threshold"):
        assert copy[key] == source[key], key
    assert "gunwatch.alarm_threshold" not in copy  # measured on clips for FP32's scores
    assert copy["gunwatch.precision"] == "int8" and copy["gunwatch.source_model"] == "verifier.onnx"
    assert OnnxGunVerifier.load(int8).alarm_threshold == OnnxGunVerifier.load(int8).threshold


def test_its_weights_use_seven_bits(models: tuple[Path, Path]) -> None:
    # As the detector's (test_quantize.py): no CPU without VNNI can saturate a 7-bit weight's products.
    weights = int8_weights(models[1])
    assert weights and max(int(np.abs(w.astype(np.int32)).max()) for w in weights) <= 64


def test_an_int8_file_or_too_few_crops_are_refused(models: tuple[Path, Path], tmp_path: Path) -> None:
    fp32, int8 = models
    with pytest.raises(ModelError, match="already quantised"):
        quantize_verifier(int8, crops(32, seed=2), tmp_path / "again.onnx")
    with pytest.raises(ValueError, match=f"at least {CROPS_PER_BATCH}"):
        quantize_verifier(fp32, crops(CROPS_PER_BATCH - 1, seed=2), tmp_path / "few.onnx")
