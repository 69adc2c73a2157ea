"""The exported localizer on ONNX Runtime, loaded through load_detector (fixtures in tests/conftest.py)."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

from gunwatch import GUN_LABEL
from gunwatch.inference.detections import Detections
from gunwatch.inference.loading import load_detector
from gunwatch.inference.onnx_localizer import OnnxLocalizer
from gunwatch.inference.onnx_session import ModelError
from gunwatch.inference.preprocess import resize_rgb, to_nchw_float

torch = pytest.importorskip("torch")
onnx = pytest.importorskip("onnx")

from gunwatch.training.export import write_metadata  # noqa: E402  (needs onnx)

# What tests/conftest.py exports the tiny model with.
INPUT_SIZE = 64
THRESHOLD = 0.25


def torch_outputs(model, batch: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    with torch.no_grad():
        probability, box = model(torch.from_numpy(batch))
    return probability.numpy(), box.numpy()


def random_image(rng: np.random.Generator, width: int, height: int) -> np.ndarray:
    return rng.integers(0, 256, (height, width, 3), dtype=np.uint8)


def test_load_detector_dispatches_on_the_metadata_kind(tiny_localizer_onnx: Path) -> None:
    detector = load_detector(tiny_localizer_onnx, threads=1)
    assert isinstance(detector, OnnxLocalizer)
    assert (detector.name, detector.class_names, detector.input_size) == ("tiny-localizer", (GUN_LABEL,), INPUT_SIZE)
    assert detector.threshold == THRESHOLD


def test_export_parity_with_the_torch_model(tiny_localizer, tiny_localizer_onnx: Path) -> None:
    brightness = np.float32([1.0, 0.3, 0.7]).reshape(3, 1, 1, 1)
    batch = np.random.default_rng(0).random((3, 3, INPUT_SIZE, INPUT_SIZE), dtype=np.float32) * brightness
    session = load_detector(tiny_localizer_onnx, threads=1).session
    probability, box = session.run(None, {"images": batch})
    expected_probability, expected_box = torch_outputs(tiny_localizer, batch)
    assert (probability.shape, box.shape) == ((3,), (3, 4))
    np.testing.assert_allclose(probability, expected_probability, rtol=0, atol=1e-4)
    np.testing.assert_allclose(box, expected_box, rtol=0, atol=1e-4)
    # The inputs differ, so the outputs must too: a constant graph would pass the parity check trivially.
    assert np.ptp(box[:, 0]) > 1e-3 and np.ptp(probability) > 1e-3


def test_boxes_are_scaled_to_each_images_own_size(tiny_localizer, tiny_localizer_onnx: Path) -> None:
    rng = np.random.default_rng(1)
    images = [random_image(rng, 64, 48), random_image(rng, 30, 100)]
    detections = load_detector(tiny_localizer_onnx, threads=1).detect(images)
    assert len(detections) == 2
    batch = to_nchw_float([resize_rgb(image, INPUT_SIZE) for image in images])
    probability, box = torch_outputs(tiny_localizer, batch)
    for result, image, p, b in zip(detections, images, probability, box, strict=True):
        height, width = image.shape[:2]
        assert isinstance(result, Detections)
        assert len(result) == 1
        assert result.class_ids.tolist() == [0]
        np.testing.assert_allclose(result.scores, [p], atol=1e-4)
        scale = np.array([width, height, width, height], np.float32)
        np.testing.assert_allclose(result.xyxy, [np.clip(b, 0, 1) * scale], atol=1e-4 * max(width, height))
        assert (result.xyxy >= 0).all() and (result.xyxy[0, [0, 2]] <= width).all()
        assert (result.xyxy[0, [1, 3]] <= height).all()


def test_same_picture_at_two_sizes_gives_the_same_relative_box(tiny_localizer_onnx: Path) -> None:
    # A flat colour resizes to the same model input at any size, so only the scaling differs.
    small = np.full((48, 64, 3), (200, 40, 90), np.uint8)
    tall = np.full((100, 30, 3), (200, 40, 90), np.uint8)
    first, second = load_detector(tiny_localizer_onnx, threads=1).detect([small, tall])
    np.testing.assert_allclose(first.xyxy / [64, 48, 64, 48], second.xyxy / [30, 100, 30, 100], atol=1e-6)
    np.testing.assert_allclose(first.scores, second.scores, atol=1e-6)
    assert not np.allclose(first.xyxy, second.xyxy)


def test_no_images_no_detections(tiny_localizer_onnx: Path) -> None:
    assert load_detector(tiny_localizer_onnx, threads=1).detect([]) == []


def copy_with_metadata(source: Path, target: Path, metadata: dict[str, str], drop: tuple[str, ...] = ()) -> Path:
    shutil.copyfile(source, target)
    if drop:
        model = onnx.load(str(target))
        kept = [(p.key, p.value) for p in model.metadata_props if p.key not in drop]
        del model.metadata_props[:]
        for key, value in kept:
            entry = model.metadata_props.add()
            entry.key, entry.value = key, value
        onnx.save(model, str(target))
    if metadata:
        write_metadata(target, metadata)
    return target


@pytest.mark.parametrize(
    ("metadata", "drop", "threshold"),
    [
        ({"gunwatch.threshold": "0.612345"}, (), 0.612345),
        ({}, ("gunwatch.threshold",), 0.5),  # no threshold in the file: the default
    ],
)
def test_threshold_comes_from_the_metadata(
    tiny_localizer_onnx: Path, tmp_path: Path, metadata: dict, drop: tuple, threshold: float
) -> None:
    path = copy_with_metadata(tiny_localizer_onnx, tmp_path / "m.onnx", metadata, drop)
    assert load_detector(path, threads=1).threshold == threshold


@pytest.mark.parametrize(
    ("metadata", "drop", "fragment"),
    [
        ({"gunwatch.kind": "yolo-nas"}, (), "unknown model kind 'yolo-nas' in metadata (known: localizer, yolox"),
        ({}, ("gunwatch.kind",), "unknown model kind None in metadata"),
        ({}, ("gunwatch.input_size",), "metadata key 'gunwatch.input_size' missing"),
        ({"gunwatch.threshold": "high"}, (), "metadata 'gunwatch.threshold' is not a number: 'high'"),
    ],
)
def test_bad_metadata_is_a_model_error_naming_the_file(
    tiny_localizer_onnx: Path, tmp_path: Path, metadata: dict, drop: tuple, fragment: str
) -> None:
    path = copy_with_metadata(tiny_localizer_onnx, tmp_path / "bad.onnx", metadata, drop)
    with pytest.raises(ModelError) as raised:
        load_detector(path, threads=1)
    assert str(raised.value).startswith(f"{path}: ")
    assert fragment in str(raised.value)


@pytest.mark.parametrize(
    ("content", "fragment"),
    [
        (None, "model file not found"),
        (b"this is not an onnx model", "not a loadable ONNX model"),
    ],
)
def test_unusable_file_is_a_model_error_naming_the_file(tmp_path: Path, content: bytes | None, fragment: str) -> None:
    path = tmp_path / "model.onnx"
    if content is not None:
        path.write_bytes(content)
    with pytest.raises(ModelError) as raised:
        load_detector(path)
    assert str(raised.value).startswith(f"{path}: {fragment}")


def test_a_folder_is_not_a_model_file(tmp_path: Path) -> None:
    with pytest.raises(ModelError, match="model file not found"):
        load_detector(tmp_path)
