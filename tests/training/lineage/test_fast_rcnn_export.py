"""Fast R-CNN exported to ONNX: ONNX Runtime matches PyTorch for RoI pooling (MaxRoiPool) and RoI align."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import pytest
import torch

from gunwatch.inference.lineage.fast_rcnn import OnnxFastRcnn
from gunwatch.inference.loading import load_detector
from gunwatch.training.lineage.fast_rcnn.config import FastRcnnTrainConfig
from gunwatch.training.lineage.fast_rcnn.export import build_network, export_fast_rcnn
from gunwatch.training.lineage.fast_rcnn.train import build_model, detect

OPERATOR = {"pool": "MaxRoiPool", "align": "RoiAlign"}


def tiny(tmp_path: Path, roi_op: str) -> tuple[torch.nn.Module, FastRcnnTrainConfig, Path]:
    torch.manual_seed(0)
    config = FastRcnnTrainConfig(data="d", split="s", roi_op=roi_op, fc_dim=32, min_side=64, max_side=96)
    try:  # ImageNet features: RoIs of one image differ, so the comparison means something
        model = build_model(config).eval()
    except FileNotFoundError:
        model = build_network(config).eval()
    torch.nn.init.normal_(model.bbox_pred.weight, std=0.3)  # deltas big enough to compare
    torch.nn.init.normal_(model.cls_score.weight, std=0.3)
    return model, config, export_fast_rcnn(model, config, tmp_path / "model.onnx")


def random_rois(count: int, height: int, width: int, rng: np.random.Generator) -> np.ndarray:
    corner = rng.uniform(0, [width - 8, height - 8], (count, 2))
    size = rng.uniform(4, [width, height], (count, 2))
    return np.concatenate([corner, np.minimum(corner + size, [width, height])], 1).astype(np.float32)


@pytest.mark.parametrize("roi_op", ["pool", "align"])
def test_onnx_runtime_matches_pytorch_at_another_size(tmp_path: Path, roi_op: str) -> None:
    model, _, path = tiny(tmp_path, roi_op)
    assert OPERATOR[roi_op] in {node.op_type for node in onnx.load(str(path)).graph.node}
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    rng = np.random.default_rng(1)
    for height, width, count in ((64, 96, 5), (80, 48, 300)):  # free image size and RoI count
        image = rng.random((1, 3, height, width), dtype=np.float32)
        rois = random_rois(count, height, width, rng)
        probabilities, deltas = session.run(None, {"image": image, "rois": rois})
        with torch.no_grad():
            expected = model(torch.from_numpy(image), torch.from_numpy(rois))
        np.testing.assert_allclose(probabilities, expected[0].numpy(), atol=1e-5)
        np.testing.assert_allclose(deltas, expected[1].numpy(), atol=1e-5)
        assert deltas.std(0).min() > 0.005  # the RoIs differ


@pytest.mark.parametrize("roi_op", ["pool", "align"])
def test_the_runtime_finds_what_the_pytorch_path_finds(tmp_path: Path, roi_op: str) -> None:
    model, config, path = tiny(tmp_path, roi_op)
    detector = load_detector(path, threads=1)
    assert isinstance(detector, OnnxFastRcnn)
    metadata = {p.key: p.value for p in onnx.load(str(path)).metadata_props}
    assert (metadata["gunwatch.kind"], metadata["gunwatch.classes"], metadata["gunwatch.roi_op"]) == (
        "fast-rcnn", "handgun", roi_op)
    assert (detector.min_side, detector.max_side, detector.input_size) == (64, 96, 96)
    rng = np.random.default_rng(2)
    image = rng.integers(0, 255, (120, 200, 3), dtype=np.uint8)
    proposals = random_rois(50, 120, 200, rng)
    found = detector.detect_with_proposals(image, proposals)
    expected = detect(model, image, proposals, config)
    assert len(found) == len(expected) > 0
    np.testing.assert_allclose(found.xyxy, expected.xyxy, atol=1e-3)
    np.testing.assert_allclose(found.scores, expected.scores, atol=1e-5)


def test_regions_are_the_selective_search_proposals_the_network_scores(tmp_path: Path) -> None:
    _, _, path = tiny(tmp_path, "pool")
    detector = load_detector(path, threads=1)
    image = np.random.default_rng(3).integers(0, 255, (120, 200, 3), dtype=np.uint8)
    proposals = detector.propose(image)  # type: ignore[attr-defined]
    assert detector.regions(image) == len(proposals) > 0  # type: ignore[attr-defined]
