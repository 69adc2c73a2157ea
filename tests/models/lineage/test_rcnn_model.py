"""R-CNN's exported graph: shapes, the heads set from the fitted models, ONNX Runtime parity with PyTorch."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")
ort = pytest.importorskip("onnxruntime")

from gunwatch.models.lineage.rcnn import Rcnn  # noqa: E402


def _model() -> Rcnn:
    torch.manual_seed(0)
    model = Rcnn().eval()
    rng = np.random.default_rng(0)
    model.set_heads(rng.normal(size=1280) * 0.01, 0.3, (2.0, -0.5), rng.normal(size=(4, 1280)) * 0.01,
                    np.array([0.1, -0.1, 0.2, 0.0]))
    return model


def test_shapes_and_heads():
    model = _model()
    crops = torch.rand(3, 3, 48, 48)
    with torch.no_grad():
        probability, deltas = model(crops)
        features = model.features(crops)
    assert probability.shape == (3,) and deltas.shape == (3, 4) and features.shape == (3, 1280)
    margin = features @ model.classifier.weight[0] + 0.3
    torch.testing.assert_close(probability, torch.sigmoid(2.0 * margin - 0.5))
    torch.testing.assert_close(deltas, features @ model.regressor.weight.T + torch.tensor([0.1, -0.1, 0.2, 0.0]))


def test_onnx_runtime_matches_pytorch(tmp_path: Path):
    from gunwatch.training.lineage.rcnn.train import onnx_export

    model = _model()
    crops = torch.rand(5, 3, 48, 48)
    path = tmp_path / "rcnn.onnx"
    onnx_export(model, crops[:1], path, ["gun_probability", "deltas"])
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    probability, deltas = session.run(None, {"crops": crops.numpy()})
    with torch.no_grad():
        expected_p, expected_d = model(crops)
    np.testing.assert_allclose(probability, expected_p.numpy(), atol=1e-5)
    np.testing.assert_allclose(deltas, expected_d.numpy(), atol=1e-4)
