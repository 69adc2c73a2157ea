from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from gunwatch.data.records import ImageRecord
from gunwatch.inference.context_crops import cut_context_crops
from gunwatch.inference.detections import Detections
from gunwatch.inference.second_look import SecondLook
from gunwatch.training.verifier_data import (
    CANDIDATE,
    GUN,
    IGNORED,
    LABELLED,
    NOT_GUN,
    PERSON,
    SECOND_LOOK,
    CropPlan,
    VerifierCrops,
    candidate_labels,
    mine_verifier_crops,
)


def test_candidates_are_labelled_by_their_overlap_with_the_guns() -> None:
    guns = np.array([[0, 0, 100, 100]], np.float32)
    boxes = np.array([[0, 0, 100, 100], [0, 0, 100, 45], [0, 0, 100, 5], [200, 200, 220, 220]], np.float32)
    labels = candidate_labels(boxes, guns, CropPlan(positive_iou=0.4, negative_iou=0.1))
    assert labels.tolist() == [GUN, GUN, NOT_GUN, NOT_GUN]
    assert candidate_labels(np.array([[0, 0, 100, 25]], np.float32), guns, CropPlan()).tolist() == [IGNORED]
    assert candidate_labels(boxes, np.zeros((0, 4), np.float32), CropPlan()).tolist() == [NOT_GUN] * 4


class FixedDetector:
    name, class_names, threshold = "fixed", ("person", "handgun"), 0.5

    def detect(self, images: list[np.ndarray]) -> list[Detections]:
        return [Detections(np.array([[10, 10, 30, 30], [40, 40, 60, 60], [0, 0, 50, 50], [5, 5, 9, 9]], np.float32),
                           np.array([0.9, 0.5, 0.8, 0.01], np.float32), np.array([1, 1, 0, 1]))
                for _ in images]


def test_mined_crops_hold_the_candidates_and_every_labelled_gun(tmp_path: Path) -> None:
    pixels = np.random.default_rng(0).integers(0, 255, (64, 64, 3), dtype=np.uint8)
    path = tmp_path / "a.png"
    Image.fromarray(pixels).save(path)
    records = [ImageRecord(path, 64, 64, np.array([[12, 12, 30, 30], [50, 0, 60, 10]]), ("handgun", "handgun")),
               ImageRecord(path, 64, 64, key="b.png")]
    plan = CropPlan(side=16, context=1.5, floor=0.03, top_k=8)
    crops = mine_verifier_crops(FixedDetector(), records, plan)
    # Per image: the two gun candidates above the floor, its labelled guns, then the person as a not-gun, where
    # no labelled gun fills the person's box (in the first image one does: IoU 0.13).
    assert crops.label.tolist() == [GUN, NOT_GUN, GUN, GUN, NOT_GUN, NOT_GUN, NOT_GUN]
    assert crops.source.tolist() == [CANDIDATE, CANDIDATE, LABELLED, LABELLED, CANDIDATE, CANDIDATE, PERSON]
    assert crops.image.tolist() == [0, 0, 0, 0, 1, 1, 1]
    assert crops.score.tolist() == pytest.approx([0.9, 0.5, -1.0, -1.0, 0.9, 0.5, -1.0])
    assert crops.has_gun.tolist() == [True, False]
    # Cut as the runtime cuts them.
    assert np.array_equal(crops.crops[0], cut_context_crops(pixels, np.array([[10, 10, 30, 30]]), 1.5, 16)[0])

    assert len(mine_verifier_crops(FixedDetector(), records[1:], CropPlan(side=16, person_negatives=0))) == 2

    crops.save(tmp_path / "crops.npz")
    again = VerifierCrops.load(tmp_path / "crops.npz")
    assert np.array_equal(again.crops, crops.crops) and again.keys.tolist() == ["a.png", "b.png"]


class PersonThenGunDetector:
    """On the whole 1600 x 900 frame: a person, 400 px tall. On anything smaller (a second-look crop): a gun
    near the crop's left edge (its context reaches past the crop) and a second box touching that edge."""

    name, class_names, threshold = "person-then-gun", ("person", "handgun"), 0.5
    input_size = (416, 416)

    def detect(self, images: list[np.ndarray]) -> list[Detections]:
        return [Detections(np.array([[700, 300, 800, 700]], np.float32), np.array([0.9], np.float32), np.array([0]))
                if image.shape[:2] == (900, 1600) else
                Detections(np.array([[12, 100, 52, 120], [0, 50, 20, 70]], np.float32),
                           np.array([0.6, 0.5], np.float32), np.array([1, 1]))
                for image in images]


def test_second_look_candidates_are_cut_from_the_crop_and_labelled_in_frame_pixels(tmp_path: Path) -> None:
    frame = np.random.default_rng(1).integers(0, 255, (900, 1600, 3), dtype=np.uint8)
    Image.fromarray(frame).save(tmp_path / "frame.png")
    detector = PersonThenGunDetector()
    look = SecondLook(detector, 416)
    (tile,) = look.plan(frame, detector.detect([frame])[0], 416 / 1600)
    gun_in_frame = np.array([[tile.x1 + 12, tile.y1 + 100, tile.x1 + 52, tile.y1 + 120]], np.float32)
    records = [ImageRecord(tmp_path / "frame.png", 1600, 900, gun_in_frame, ("handgun",)),
               ImageRecord(tmp_path / "frame.png", 1600, 900, key="gun-free.png")]
    plan = CropPlan(side=32, context=1.8, person_negatives=0)

    crops = mine_verifier_crops(detector, records, plan, second_look=look)
    looked = crops.source == SECOND_LOOK
    # One candidate per crop: the box on the crop's edge is dropped, as the second look drops it.
    assert crops.image[looked].tolist() == [0, 1]
    # A gun where the labelled gun is in frame pixels, not one in the frame without it.
    assert crops.label[looked].tolist() == [GUN, NOT_GUN]
    assert crops.score[looked].tolist() == pytest.approx([0.6, 0.6])
    # Cut from the crop the detector was given, as the runtime cuts it: grey beyond the crop's edge where the
    # whole frame has pixels.
    view = frame[tile.y1 : tile.y2, tile.x1 : tile.x2]
    expected = cut_context_crops(view, np.array([[12, 100, 52, 120]], np.float32), 1.8, 32)[0]
    assert np.array_equal(crops.crops[np.flatnonzero(looked)[0]], expected)
    assert not np.array_equal(expected, cut_context_crops(frame, gun_in_frame, 1.8, 32)[0])
    # Without the second look only the whole frame's candidates (none here) and the labelled gun.
    assert crops.source[~looked].tolist() == [LABELLED]
    assert mine_verifier_crops(detector, records, plan).source.tolist() == [LABELLED]
