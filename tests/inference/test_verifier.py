"""The verified detector with a real ONNX verifier (tests/support/verifier_graph.py: a crop is a gun by how red
it is)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from gunwatch.checksums import sha256_of
from gunwatch.inference import loading
from gunwatch.inference.alarm_threshold import alarm_threshold
from gunwatch.inference.context_crops import cut_context_crops
from gunwatch.inference.detections import Detections
from gunwatch.inference.onnx_session import ModelError
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
    assert loading.resolve_verifier("auto", detector) == shipped
    assert loading.resolve_verifier("auto", other) is None
    assert loading.resolve_verifier("none", detector) is None
    assert loading.resolve_verifier(str(shipped), other) == shipped  # named: the pairing is checked on loading
    monkeypatch.setattr(loading, "SHIPPED_VERIFIER", tmp_path / "absent.onnx")
    assert loading.resolve_verifier("auto", detector) is None


def boxed_verifier(tmp_path: Path, scale: float, shift: list[float], blend: str) -> OnnxGunVerifier:
    return OnnxGunVerifier.load(write_redness_verifier(tmp_path / f"boxed-{scale}-{blend}.onnx", "0" * 64,
                                                       box=(scale, shift), **{"gunwatch.box_blend": blend}))


def verified(detections: Detections, verifier: OnnxGunVerifier) -> Detections:
    (found,) = VerifiedDetector(FixedDetector(detections), verifier, check_pairing=False).detect([scene()])
    return found


def test_a_box_head_is_given_each_candidates_box_in_its_crop_and_leaves_a_right_one_in_place(
        tmp_path: Path) -> None:
    verifier = boxed_verifier(tmp_path, 1.0, [0, 0, 0, 0], "1.0")  # gives back the box it was given
    assert verifier.has_box_head and verifier.box_blend == 1.0
    found = verified(detections(), verifier)
    assert np.allclose(sorted(found.of_class(GUN).xyxy.tolist()), [[20, 40, 40, 60], [120, 40, 140, 60]], atol=1e-4)


def test_a_box_head_moves_the_candidate_to_where_it_puts_the_gun_in_frame_pixels(tmp_path: Path) -> None:
    found = verified(detections(), boxed_verifier(tmp_path, 0.0, [0.25, 0.25, 0.75, 0.75], "1.0"))
    # [20, 40, 40, 60] with context 1.5 is judged in the square [15, 35, 45, 65]; the middle half of it is
    # [22.5, 42.5, 37.5, 57.5]. The same for the blue candidate; the person is not moved.
    assert sorted(found.of_class(GUN).xyxy.tolist()) == [[22.5, 42.5, 37.5, 57.5], [122.5, 42.5, 137.5, 57.5]]
    assert found.of_class(PERSON).xyxy.tolist() == [[0, 0, 90, 99]]
    shifted = verified(detections(), boxed_verifier(tmp_path, 1.0, [0.1, 0, 0.1, 0], "1.0"))  # 0.1 of 30 px
    assert np.allclose(sorted(shifted.of_class(GUN).xyxy.tolist()), [[23, 40, 43, 60], [123, 40, 143, 60]], atol=1e-4)


def test_the_blend_weighs_the_detectors_box_against_the_verifiers(tmp_path: Path) -> None:
    half = verified(detections(), boxed_verifier(tmp_path, 0.0, [0.25, 0.25, 0.75, 0.75], "0.5"))
    assert [21.25, 41.25, 38.75, 58.75] in half.of_class(GUN).xyxy.tolist()
    kept = verified(detections(), boxed_verifier(tmp_path, 0.0, [0.25, 0.25, 0.75, 0.75], "0.0"))
    assert sorted(kept.of_class(GUN).xyxy.tolist()) == [[20, 40, 40, 60], [120, 40, 140, 60]]


def test_candidates_moved_onto_one_gun_are_merged_keeping_the_better(tmp_path: Path) -> None:
    # Two candidates on the red patch, the whole of it and a thin slice (IoU 0.3: the detector kept both); their
    # squares are the same, and the head puts both on its middle half.
    two = Detections(np.array([[20, 40, 40, 60], [20, 47, 40, 53]], np.float32), np.array([0.5, 0.9], np.float32),
                     np.array([GUN, GUN]))
    verifier = boxed_verifier(tmp_path, 0.0, [0.25, 0.25, 0.75, 0.75], "1.0")
    merged = verified(two, verifier)
    assert merged.xyxy.tolist() == [[22.5, 42.5, 37.5, 57.5]]
    crops = cut_context_crops(scene(), two.xyxy, 1.5, verifier.side)
    scores = combined_score(two.scores, verifier.judge(crops, np.zeros((2, 4), np.float32)), 0.5)
    assert merged.scores[0] == pytest.approx(scores.max())
    unmoved = verified(two, boxed_verifier(tmp_path, 1.0, [0, 0, 0, 0], "1.0"))
    assert len(unmoved) == 2


def test_a_moved_box_stays_inside_the_image_with_its_corners_in_order(tmp_path: Path) -> None:
    edge = Detections(np.array([[0, 0, 20, 20]], np.float32), np.array([0.9], np.float32), np.array([GUN]))
    found = verified(edge, boxed_verifier(tmp_path, 0.0, [1.2, -0.5, -0.1, 0.4], "1.0"))  # inverted, beyond the crop
    (x1, y1, x2, y2), = found.xyxy.tolist()
    assert 0 <= x1 <= x2 <= 200 and 0 <= y1 <= y2 <= 100


def test_a_blend_outside_0_to_1_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ModelError, match="box_blend"):
        boxed_verifier(tmp_path, 0.0, [0.25, 0.25, 0.75, 0.75], "1.5")


def test_a_box_head_needs_the_candidates_boxes(tmp_path: Path) -> None:
    verifier = boxed_verifier(tmp_path, 1.0, [0, 0, 0, 0], "1.0")
    with pytest.raises(ValueError, match="box head"):
        verifier.judge(np.zeros((1, 16, 16, 3), np.uint8))
