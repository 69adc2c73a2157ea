"""The Faster R-CNN's ONNX export: ONNX Runtime gives PyTorch's detections, at any image size."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("torchvision")

from gunwatch.inference.lineage.faster_rcnn import OnnxFasterRcnn  # noqa: E402
from gunwatch.inference.loading import load_detector  # noqa: E402
from gunwatch.models.lineage.faster_rcnn import Anchors, FasterRcnnSettings, build_faster_rcnn  # noqa: E402
from gunwatch.training.lineage.faster_rcnn.export import export_faster_rcnn, parity  # noqa: E402
from gunwatch.training.lineage.faster_rcnn.train import predict  # noqa: E402

SETTINGS = FasterRcnnSettings(anchors=Anchors((16.0, 40.0), (0.6, 1.4)), min_size=96, max_size=128,
                              representation_size=32, rpn_pre_nms_top_n_test=80, rpn_post_nms_top_n_test=40,
                              box_detections_per_img=25)


def fixture_images() -> list[np.ndarray]:
    """A dark pistol-like shape on noise, at sizes smaller and larger than the input, landscape and portrait."""
    rng = np.random.default_rng(0)
    images = []
    for height, width in ((60, 80), (240, 180), (128, 128)):
        image = rng.integers(140, 230, (height, width, 3), dtype=np.uint8)
        image[height // 4 : height // 2, width // 4 : 3 * width // 4] = 20
        image[height // 4 : 3 * height // 4, width // 2 : 3 * width // 4] = 25
        images.append(image)
    return images


@pytest.fixture(scope="module")
def exported(tmp_path_factory) -> tuple[torch.nn.Module, Path]:
    torch.manual_seed(0)
    model = build_faster_rcnn(SETTINGS, width_mult=0.35).eval()
    path = export_faster_rcnn(model, SETTINGS, tmp_path_factory.mktemp("onnx") / "model.onnx")
    return model, path


def test_onnx_runtime_gives_pytorchs_detections_at_any_size(exported) -> None:
    model, path = exported
    for image in fixture_images():
        tensor = torch.from_numpy(image).permute(2, 0, 1).float() / 255
        differences = parity(model, path, tensor)
        assert differences["labels"] == 0.0
        assert differences["boxes"] < 1e-2  # pixels
        assert differences["scores"] < 1e-4


def test_the_runtime_detects_what_pytorch_does_in_image_pixels(exported) -> None:
    model, path = exported
    detector = load_detector(path, threads=1)
    assert isinstance(detector, OnnxFasterRcnn)
    images = fixture_images()
    expected = predict(model, images)
    got = detector.detect(images)
    for image, want, have in zip(images, expected, got, strict=True):
        assert 0 < len(have) <= 25
        np.testing.assert_allclose(have.xyxy, want.xyxy, atol=1e-2)
        np.testing.assert_allclose(have.scores, want.scores, atol=1e-4)
        assert (have.class_ids == 0).all()
        assert (have.xyxy[:, 2] <= image.shape[1]).all() and (have.xyxy[:, 3] <= image.shape[0]).all()


def test_the_metadata_names_the_kind_the_input_and_the_proposals(exported) -> None:
    _, path = exported
    detector = load_detector(path, threads=1)
    assert detector.class_names == ("handgun",)
    assert detector.input_size == 128
    assert detector.proposals_per_image == 40
    assert detector.threshold == 0.5  # until `gunwatch train` calibrates it
    metadata = detector.session.get_modelmeta().custom_metadata_map
    assert metadata["gunwatch.kind"] == "faster-rcnn"
    assert metadata["gunwatch.anchor_sizes"] == "16.0,40.0"
    assert metadata["gunwatch.anchor_ratios"] == "0.6,1.4"
    assert (metadata["gunwatch.min_size"], metadata["gunwatch.max_size"]) == ("96", "128")
