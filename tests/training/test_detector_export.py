"""The detector's ONNX export: same numbers as PyTorch at any batch and input size, metadata the runtime reads."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("onnx")

from gunwatch.inference.loading import load_detector  # noqa: E402
from gunwatch.inference.onnx_session import open_session  # noqa: E402
from gunwatch.training.detector_train import predict  # noqa: E402

SIDE = 128  # the tiny_detector fixture's default side (tests/conftest.py)


@pytest.mark.parametrize(("batch", "side"), [(1, SIDE), (3, SIDE), (2, 96), (1, 160)])
def test_onnx_matches_pytorch_at_any_batch_and_size(
    tiny_detector, tiny_detector_onnx: Path, batch: int, side: int
) -> None:
    images = torch.rand(batch, 3, side, side) * 255
    with torch.no_grad():
        expected = tiny_detector(images).numpy()
    session = open_session(tiny_detector_onnx, threads=1)
    got = session.run(None, {"images": images.numpy()})[0]
    assert got.shape == expected.shape == (batch, sum((side // s) ** 2 for s in (8, 16, 32)), 7)
    np.testing.assert_allclose(got, expected, atol=2e-3, rtol=1e-3)


def test_runtime_reads_the_metadata(tiny_detector_onnx: Path) -> None:
    detector = load_detector(tiny_detector_onnx, threads=1)
    assert detector.class_names == ("person", "handgun")
    assert detector.threshold == pytest.approx(0.4)
    assert detector.input_size == (SIDE, SIDE)
    assert load_detector(tiny_detector_onnx, threads=1, input_size=96).input_size == (96, 96)


def test_batched_runtime_equals_one_image_at_a_time_and_the_torch_path(tiny_detector, tiny_detector_onnx: Path) -> None:
    rng = np.random.default_rng(0)
    images = [rng.integers(0, 255, shape, dtype=np.uint8) for shape in ((100, 140, 3), (128, 128, 3), (60, 200, 3))]
    detector = load_detector(tiny_detector_onnx, threads=1)
    batched = detector.detect(images)
    single = [detector.detect([image])[0] for image in images]
    in_torch = predict(tiny_detector, images, SIDE, torch.device("cpu"))
    assert sum(len(d) for d in batched) > 0
    for a, b, c in zip(batched, single, in_torch, strict=True):
        np.testing.assert_allclose(a.xyxy, b.xyxy, atol=1e-3)
        np.testing.assert_allclose(a.scores, b.scores, atol=1e-5)
        # Near-equal untrained scores may swap places between the two runtimes: compare them sorted.
        assert len(a) == len(c)
        np.testing.assert_allclose(np.sort(a.scores), np.sort(c.scores), atol=1e-3)
