"""Test-time flip: the mirrored view's boxes come back in the image's pixels, and the two views merge."""

from __future__ import annotations

from pathlib import Path

import av
import numpy as np
import pytest

from gunwatch.inference.alarm_threshold import alarm_threshold
from gunwatch.inference.detections import Detections
from gunwatch.inference.flip import FlippedDetector, merge_views, mirror_boxes
from gunwatch.inference.loading import load_detector

DEMO = Path(__file__).resolve().parents[2] / "samples" / "demo" / "lobby.mp4"  # a handgun from 3 s to 7 s
GUN = 1
MARK = (255, 0, 0)


class LeftEyedDetector:
    """A stand-in that finds red patches, but only where they touch the left half of the image, with a score
    that grows with the patch's column (so the two views of one patch score differently)."""

    name, class_names, threshold = "left-eyed", ("person", "handgun"), 0.5

    def __init__(self) -> None:
        self.calls: list[int] = []
        self.input_size = (416, 416)

    def detect(self, images: list[np.ndarray]) -> list[Detections]:
        self.calls.append(len(images))
        return [self._find(image) for image in images]

    def _find(self, image: np.ndarray) -> Detections:
        mask = np.all(image == MARK, axis=2)
        mask[:, image.shape[1] // 2:] = False
        if not mask.any():
            return Detections()
        ys, xs = np.nonzero(mask)
        box = [xs.min(), ys.min(), xs.max() + 1, ys.max() + 1]
        return Detections(np.array([box], np.float32), np.array([0.5 + xs.min() / image.shape[1]]), np.array([GUN]))


def test_mirrored_boxes_come_back_exactly():
    boxes = np.array([[10, 20, 50, 60], [0, 0, 200, 100]], np.float32)
    assert mirror_boxes(boxes, 200).tolist() == [[150, 20, 190, 60], [0, 0, 200, 100]]
    assert mirror_boxes(mirror_boxes(boxes, 200), 200).tolist() == boxes.tolist()


def test_one_object_seen_in_both_views_keeps_its_better_view():
    direct = Detections(np.array([[10, 10, 40, 30]]), np.array([0.6]), np.array([GUN]))
    mirrored = Detections(np.array([[160, 10, 190, 30]]), np.array([0.8]), np.array([GUN]))  # the same gun, w 200
    merged = merge_views(direct, mirrored, 200)
    assert merged.xyxy.tolist() == [[10, 10, 40, 30]] and merged.scores.tolist() == pytest.approx([0.8])


def test_a_person_and_a_gun_in_one_place_are_not_merged():
    direct = Detections(np.array([[10, 10, 40, 30]]), np.array([0.9]), np.array([0]))
    mirrored = Detections(np.array([[160, 10, 190, 30]]), np.array([0.7]), np.array([GUN]))
    assert sorted(merge_views(direct, mirrored, 200).class_ids.tolist()) == [0, GUN]


def test_a_gun_only_the_mirrored_view_sees_comes_out_at_its_own_pixels():
    image = np.zeros((100, 200, 3), np.uint8)
    image[40:50, 150:170] = MARK  # on the right: the stand-in sees it only mirrored (at columns 30-50)
    inner = LeftEyedDetector()

    (found,) = FlippedDetector(inner).detect([image])

    assert found.xyxy.tolist() == [[150, 40, 170, 50]]
    assert inner.calls == [2]  # both views in one call


def test_each_image_of_a_batch_gets_its_own_mirror():
    left, right = np.zeros((100, 200, 3), np.uint8), np.zeros((60, 120, 3), np.uint8)
    left[10:20, 10:30] = MARK
    right[5:15, 100:110] = MARK
    inner = LeftEyedDetector()

    found = FlippedDetector(inner).detect([left, right])

    assert [d.xyxy.tolist() for d in found] == [[[10, 10, 30, 20]], [[100, 5, 110, 15]]]
    assert inner.calls == [4] and FlippedDetector(inner).detect([]) == []


def test_the_wrapper_is_the_model_it_wraps_otherwise():
    flipped = FlippedDetector(LeftEyedDetector())
    assert (flipped.name, flipped.class_names, flipped.threshold) == ("left-eyed+flip", ("person", "handgun"), 0.5)
    assert flipped.input_size == (416, 416)  # the runtime's own attributes pass through


@pytest.fixture(scope="module")
def demo_gun_frame() -> np.ndarray:
    """The demo clip at 5 s, the handgun in view (RGB)."""
    with av.open(str(DEMO)) as container:
        for frame in container.decode(video=0):
            if frame.time is not None and frame.time >= 5.0:
                return frame.to_ndarray(format="rgb24")
    raise AssertionError(f"{DEMO}: shorter than 5 s")


def test_the_shipped_model_with_flip_keeps_its_thresholds_and_finds_the_demo_gun(demo_gun_frame):
    plain, flipped = load_detector(), load_detector(flip=True)
    assert isinstance(flipped, FlippedDetector) and flipped.threshold == plain.threshold
    assert alarm_threshold(flipped) == alarm_threshold(plain) == pytest.approx(0.65)  # read through the wrapper
    (direct,), (both,) = plain.detect([demo_gun_frame]), flipped.detect([demo_gun_frame])
    assert float(both.of_class(GUN).scores.max()) >= float(direct.of_class(GUN).scores.max()) >= plain.threshold
