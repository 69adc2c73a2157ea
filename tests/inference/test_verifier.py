"""The verified detector with a real ONNX verifier (tests/support/verifier_graph.py: a crop is a gun by how red
it is)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from gunwatch.checksums import sha256_of
from gunwatch.inference import loading
from gunwatch.inference.alarm_threshold import alarm_threshold
from gunwatch.inference.detections import Detections
from gunwatch.inference.onnx_session import ModelError
from gunwatch.inference.second_look import SecondLookDetector
from gunwatch.inference.tiling import TiledDetector
from gunwatch.inference.verifier import OnnxGunVerifier, VerifiedDetector, combined_score, top_candidates
from support.verifier_graph import write_redness_verifier

PERSON, GUN = 0, 1


class FixedDetector:
    """Stands in for the detector network: the same detections for every image (the verifier is real)."""

    def __init__(self, detections: Detections, path: Path | None = None):
        self.detections, self.name, self.class_names, self.threshold = detections, "fixed", ("person", "handgun"), 0.7
        self.path, self.input_size = path, (416, 416)

    def detect(self, images: list[np.ndarray]) -> list[Detections]:
        return [self.detections for _ in images]


def scene() -> np.ndarray:
    image = np.full((100, 200, 3), 128, np.uint8)
    image[40:60, 20:40] = (255, 0, 0)  # red: a gun to this verifier
    image[40:60, 120:140] = (0, 0, 255)  # blue: not a gun
    return image


def detections() -> Detections:
    return Detections(
        np.array([[20, 40, 40, 60], [120, 40, 140, 60], [0, 0, 90, 99], [150, 0, 160, 10]], np.float32),
        np.array([0.6, 0.9, 0.8, 0.05], np.float32),  # the last gun is under the floor (0.1)
        np.array([GUN, GUN, PERSON, GUN]),
    )


@pytest.fixture
def verifier(tmp_path: Path) -> OnnxGunVerifier:
    return OnnxGunVerifier.load(write_redness_verifier(tmp_path / "verifier.onnx", "0" * 64))


def test_the_combined_score_is_the_weighted_geometric_mean() -> None:
    assert combined_score(np.array([0.64]), np.array([0.25]), 0.5)[0] == pytest.approx(0.4)
    assert combined_score(np.array([0.64]), np.array([0.25]), 1.0)[0] == pytest.approx(0.64)
    assert combined_score(np.array([0.8]), np.array([0.0]), 0.5)[0] == 0.0  # a firm no vetoes


def test_candidates_are_the_best_k_above_the_floor() -> None:
    assert top_candidates(np.array([0.2, 0.05, 0.9, 0.5, 0.3]), 0.1, 3).tolist() == [2, 3, 4]
    assert top_candidates(np.array([0.05]), 0.1, 3).tolist() == []


def test_guns_are_rescored_by_the_verifier_and_people_pass_unchanged(verifier: OnnxGunVerifier) -> None:
    detector = VerifiedDetector(FixedDetector(detections()), verifier, check_pairing=False)
    (found,) = detector.detect([scene()])
    guns, people = found.of_class(GUN), found.of_class(PERSON)
    assert people.xyxy.tolist() == [[0, 0, 90, 99]] and people.scores.tolist() == pytest.approx([0.8])
    # The boxes are the detector's own; the red one now outranks the blue one the detector preferred.
    assert guns.xyxy.tolist() == [[120, 40, 140, 60], [20, 40, 40, 60]]
    blue, red = guns.scores
    assert red > 0.5 > detector.threshold > blue
    assert verifier.crops_run == 2  # the gun under the floor was not judged, and is gone


def test_crops_of_every_image_go_through_together_and_come_back_to_their_image(
        verifier: OnnxGunVerifier) -> None:
    detector = VerifiedDetector(FixedDetector(detections()), verifier, check_pairing=False)
    swapped = scene()[..., ::-1].copy()  # red where blue was, and the other way round
    first, second = detector.detect([scene(), swapped])
    assert verifier.crops_run == 4
    left, right = (np.array([20, 40, 40, 60]), np.array([120, 40, 140, 60]))

    def score(found: Detections, box: np.ndarray) -> float:
        guns = found.of_class(GUN)
        return float(guns.scores[(guns.xyxy == box).all(axis=1)][0])

    assert score(first, left) > 0.5 > score(second, left)
    assert score(second, right) > 0.5 > score(first, right)


def test_it_carries_the_verifiers_thresholds(verifier: OnnxGunVerifier) -> None:
    detector = VerifiedDetector(FixedDetector(detections()), verifier, check_pairing=False)
    assert detector.threshold == pytest.approx(0.4)
    assert alarm_threshold(detector) == pytest.approx(0.35)
    assert detector.input_size == (416, 416)  # the rest is the wrapped detector's


def test_behind_the_second_look_and_tiles_it_still_alarms_at_the_verifiers_threshold(
        verifier: OnnxGunVerifier) -> None:
    verified = VerifiedDetector(FixedDetector(detections()), verifier, check_pairing=False)
    wrapped = SecondLookDetector(TiledDetector(verified, 416, "on"), verified, 416)
    assert alarm_threshold(wrapped) == pytest.approx(0.35)
    assert wrapped.threshold == pytest.approx(0.4)


def test_a_verifier_calibrated_with_another_detector_is_refused(tmp_path: Path) -> None:
    model = tmp_path / "detector.onnx"
    model.write_bytes(b"a detector")
    other = OnnxGunVerifier.load(write_redness_verifier(tmp_path / "other.onnx", "0" * 64))
    with pytest.raises(ModelError, match="calibrated with another detector"):
        VerifiedDetector(FixedDetector(detections(), model), other)
    paired = OnnxGunVerifier.load(write_redness_verifier(tmp_path / "paired.onnx", sha256_of(model)))
    assert VerifiedDetector(FixedDetector(detections(), model), paired).name == "fixed+verifier"


def test_a_detector_file_is_not_taken_for_a_verifier(tmp_path: Path) -> None:
    path = write_redness_verifier(tmp_path / "v.onnx", "0" * 64, **{"gunwatch.kind": "yolox"})
    with pytest.raises(ModelError, match="not a gun verifier"):
        OnnxGunVerifier.load(path)


def test_auto_takes_the_shipped_verifier_only_for_the_detector_it_was_calibrated_with(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    detector, other = tmp_path / "detector.onnx", tmp_path / "other.onnx"
    detector.write_bytes(b"the detector")
    other.write_bytes(b"another detector")
    shipped = write_redness_verifier(tmp_path / "shipped-verifier.onnx", sha256_of(detector))
    monkeypatch.setattr(loading, "SHIPPED_VERIFIER", shipped)
    monkeypatch.setattr(loading, "SHIPPED_VERIFIER_INT8", tmp_path / "no-int8-copy.onnx")
    assert loading.resolve_verifier("auto", detector) == shipped
    assert loading.resolve_verifier("auto", other) is None
    assert loading.resolve_verifier("none", detector) is None
    assert loading.resolve_verifier(str(shipped), other) == shipped  # named: the pairing is checked on loading
    monkeypatch.setattr(loading, "SHIPPED_VERIFIER", tmp_path / "absent.onnx")
    assert loading.resolve_verifier("auto", detector) is None


def test_auto_takes_the_shipped_verifiers_int8_copy_while_it_was_made_from_it(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from gunwatch.inference.quantize import quantize_verifier
    from support.verifier_graph import write_conv_verifier

    detector = tmp_path / "detector.onnx"
    detector.write_bytes(b"the detector")
    shipped = write_conv_verifier(tmp_path / "verifier.onnx", sha256_of(detector))
    pixels = np.random.default_rng(0).integers(0, 256, (32, 32, 32, 3), dtype=np.uint8)
    copy = quantize_verifier(shipped, pixels, tmp_path / "verifier-int8.onnx")
    monkeypatch.setattr(loading, "SHIPPED_VERIFIER", shipped)
    monkeypatch.setattr(loading, "SHIPPED_VERIFIER_INT8", copy)
    assert loading.resolve_verifier("auto", detector) == copy
    assert loading.resolve_verifier(str(shipped), detector) == shipped  # named: the FP32 file runs
    write_conv_verifier(shipped, sha256_of(detector), seed=1)  # retrained since: the copy is stale
    assert loading.resolve_verifier("auto", detector) == shipped
