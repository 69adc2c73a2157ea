"""The Faster R-CNN runtime without a model file: what it feeds the graph and what it keeps of its answer."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

from gunwatch.inference.lineage.faster_rcnn import OnnxFasterRcnn
from gunwatch.inference.onnx_session import ModelError

METADATA = {"gunwatch.kind": "faster-rcnn", "gunwatch.classes": "handgun", "gunwatch.input_size": "416",
            "gunwatch.proposals_per_image": "300", "gunwatch.threshold": "0.7"}


class FakeSession:
    """Answers like the exported graph: two handgun boxes and one of another label."""

    def __init__(self, metadata: dict[str, str]):
        self.metadata = metadata
        self.fed: list[np.ndarray] = []

    def get_modelmeta(self) -> SimpleNamespace:
        return SimpleNamespace(custom_metadata_map=self.metadata)

    def get_inputs(self) -> list[SimpleNamespace]:
        return [SimpleNamespace(name="image")]

    def run(self, _outputs: None, feed: dict[str, np.ndarray]) -> list[np.ndarray]:
        self.fed.append(feed["image"])
        boxes = np.array([[1, 2, 3, 4], [5, 6, 7, 8], [0, 0, 9, 9]], np.float32)
        return [boxes, np.array([1, 2, 1], np.int64), np.array([0.9, 0.8, 0.01], np.float32)]


def test_the_image_goes_in_as_chw_float_in_0_1_and_only_handguns_come_back() -> None:
    session = FakeSession(METADATA)
    detector = OnnxFasterRcnn(Path("frcnn.onnx"), session)  # type: ignore[arg-type]
    image = np.zeros((2, 3, 3), np.uint8)
    image[..., 0], image[0, 1, 2] = 255, 51
    (result,) = detector.detect([image])

    (fed,) = session.fed
    assert fed.dtype == np.float32 and fed.shape == (3, 2, 3)
    assert fed[0].tolist() == [[1.0, 1.0, 1.0], [1.0, 1.0, 1.0]]
    assert fed[2, 0, 1] == pytest.approx(0.2)
    assert result.xyxy.tolist() == [[1, 2, 3, 4], [0, 0, 9, 9]]
    assert result.scores.tolist() == pytest.approx([0.9, 0.01])
    assert result.class_ids.tolist() == [0, 0]
    assert (detector.name, detector.threshold, detector.input_size, detector.proposals_per_image) == (
        "frcnn", 0.7, 416, 300)
    assert detector.regions(image) == 300  # what `gunwatch bench lineage` counts as regions per image


def test_one_call_per_image_and_none_for_no_images() -> None:
    session = FakeSession(METADATA)
    detector = OnnxFasterRcnn(Path("m.onnx"), session)  # type: ignore[arg-type]
    assert detector.detect([]) == []
    assert len(detector.detect([np.zeros((4, 5, 3), np.uint8), np.zeros((6, 2, 3), np.uint8)])) == 2
    assert [fed.shape for fed in session.fed] == [(3, 4, 5), (3, 6, 2)]


def test_a_model_of_other_classes_is_refused() -> None:
    with pytest.raises(ModelError, match="handgun"):
        OnnxFasterRcnn(Path("m.onnx"), FakeSession({**METADATA, "gunwatch.classes": "person,handgun"}))  # type: ignore[arg-type]
