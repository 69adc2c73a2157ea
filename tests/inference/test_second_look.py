"""The second look: a gun too small for the first pass is found in a person's crop at its exact frame
coordinates; the person-context rule holds guns away from people to a higher bar."""

from __future__ import annotations

import numpy as np
import pytest

from gunwatch.inference.detections import Detections
from gunwatch.inference.person_crops import SecondLookParams
from gunwatch.inference.second_look import (
    SecondLook,
    SecondLookDetector,
    apply_person_context,
    first_pass_scale,
    held_mask,
)
from gunwatch.pipeline.analysis import AnalysisRequest, FrameAnalyzer

GUN_MARK, PERSON_MARK = (255, 0, 0), (0, 0, 255)
PERSON, GUN = 0, 1


class LetterboxedMarkFinder:
    """A stand-in detector that looks at pixels as a 416 px model would: every image is scaled to the
    input (up or down), and a mark whose shorter side comes out under `min_side` input pixels is missed.
    Blue pixels are a person, red ones a gun; boxes come back in the given image's pixels."""

    name = "mark-finder"
    class_names = ("person", "handgun")
    threshold = 0.5

    def __init__(self, input_side: int = 416, min_side: float = 8.0, class_names: tuple[str, ...] | None = None):
        self.input_side, self.min_side = input_side, min_side
        self.class_names = class_names or self.class_names
        self.calls: list[int] = []

    def detect(self, images: list[np.ndarray]) -> list[Detections]:
        self.calls.append(len(images))
        return [self._find(image) for image in images]

    def _find(self, image: np.ndarray) -> Detections:
        scale = self.input_side / max(image.shape[:2])
        boxes, scores, classes = [], [], []
        for mark, class_id, score in ((PERSON_MARK, PERSON, 0.9), (GUN_MARK, GUN, 0.8)):
            mask = np.all(image == mark, axis=2)
            if not mask.any():
                continue
            ys, xs = np.nonzero(mask)
            box = [xs.min(), ys.min(), xs.max() + 1, ys.max() + 1]
            if min(box[2] - box[0], box[3] - box[1]) * scale >= self.min_side:
                boxes.append(box)
                scores.append(score)
                classes.append(class_id)
        return Detections(np.array(boxes, np.float32).reshape(-1, 4), np.array(scores), np.array(classes))


def street(gun_box: tuple[int, int, int, int] | None = (1010, 420, 1040, 432),
           person_box: tuple[int, int, int, int] = (900, 300, 1000, 660)) -> np.ndarray:
    """A 1080p frame with a person 360 px tall holding a 30 x 12 px gun just beside the body."""
    frame = np.full((1080, 1920, 3), 90, np.uint8)
    x1, y1, x2, y2 = person_box
    frame[y1:y2, x1:x2] = PERSON_MARK
    if gun_box is not None:
        x1, y1, x2, y2 = gun_box
        frame[y1:y2, x1:x2] = GUN_MARK
    return frame


def guns(found: Detections) -> Detections:
    return found.of_class(GUN)


def test_the_first_pass_alone_misses_the_gun() -> None:
    finder = LetterboxedMarkFinder()
    (found,) = finder.detect([street()])
    assert len(guns(found)) == 0 and len(found.of_class(PERSON)) == 1


def test_a_gun_in_a_crop_comes_out_at_its_exact_frame_coordinates() -> None:
    finder = LetterboxedMarkFinder()
    detector = SecondLookDetector(finder, finder, 416)
    (found,) = detector.detect([street()])
    np.testing.assert_array_equal(guns(found).xyxy, [[1010, 420, 1040, 432]])
    assert guns(found).scores[0] == pytest.approx(0.8)  # held: the score is the model's own
    assert detector.model_runs == finder.calls[1] >= 1


def test_crops_of_every_frame_go_to_the_detector_in_one_call() -> None:
    finder = LetterboxedMarkFinder()
    look = SecondLook(finder, 416)
    frames = [street(), street((950, 500, 980, 512)), street(None)]
    first = finder.detect(frames)
    finder.calls.clear()
    found = look.refine(frames, first, [416 / 1920] * 3)
    assert len(finder.calls) == 1 and finder.calls[0] == look.model_runs >= 3
    np.testing.assert_array_equal(guns(found[1]).xyxy, [[950, 500, 980, 512]])
    assert len(guns(found[2])) == 0


def test_the_live_analyzer_looks_closer_only_where_a_camera_asks() -> None:
    finder = LetterboxedMarkFinder()
    analyzer = FrameAnalyzer(finder, 416)
    looked, plain = analyzer.analyse([AnalysisRequest(street(), "off", second_look=True),
                                      AnalysisRequest(street(), "off", second_look=False)])
    np.testing.assert_array_equal(guns(looked).xyxy, [[1010, 420, 1040, 432]])
    assert len(guns(plain)) == 0


def test_the_analysis_size_does_not_change_where_the_crops_come_from() -> None:
    """A camera analysed at 960 px wide still gets its crops from the 1920 px frame."""
    finder = LetterboxedMarkFinder()
    (found,) = FrameAnalyzer(finder, 416).analyse([AnalysisRequest(street(), "off", width=960, second_look=True)])
    np.testing.assert_array_equal(guns(found).xyxy, [[1010, 420, 1040, 432]])


def test_a_model_without_people_is_left_as_it_is() -> None:
    finder = LetterboxedMarkFinder(min_side=1, class_names=("handgun",))
    look = SecondLook(finder, 416)
    first = [Detections(np.array([[5, 5, 20, 20]]), np.array([0.9]), np.array([0]))]
    assert look.refine([street()], first, [1.0]) == first
    assert look.model_runs == 0
    # and a report on it does not claim a second look it never made
    assert SecondLookDetector(finder, finder, 416).name == "mark-finder"
    with_people = LetterboxedMarkFinder(min_side=1)
    assert SecondLookDetector(with_people, with_people, 416).name == "mark-finder+second-look"


PERSON_BOX = [100, 100, 200, 400]  # 300 px tall: reach 90 px beside the body


@pytest.mark.parametrize(
    ("gun", "held"),
    [
        ([140, 200, 160, 215], True),  # in front of the body
        ([250, 150, 280, 165], True),  # arm outstretched, within reach
        ([20, 380, 40, 395], True),  # at the hip on the other side
        ([330, 200, 360, 215], False),  # beyond an arm's reach
        ([140, 600, 160, 615], False),  # on the floor far below
    ],
)
def test_held_means_inside_a_persons_reach(gun: list[float], held: bool) -> None:
    assert held_mask(np.array([gun]), np.array([PERSON_BOX]), SecondLookParams()).tolist() == [held]


def test_guns_away_from_people_keep_a_share_of_their_score() -> None:
    params = SecondLookParams(unheld_factor=0.8)
    found = Detections(
        np.array([PERSON_BOX, [140, 200, 160, 215], [330, 200, 360, 215], [600, 10, 610, 20]]),
        np.array([0.9, 0.7, 0.7, 0.2]),
        np.array([PERSON, GUN, GUN, PERSON]),  # the last person scores under the floor: not a holder
    )
    ruled = apply_person_context(found, PERSON, GUN, params, frame_height=1080)
    np.testing.assert_allclose(ruled.scores, [0.9, 0.7, 0.56, 0.2], rtol=1e-6)
    np.testing.assert_array_equal(ruled.xyxy, found.xyxy)


def test_with_nobody_in_view_every_gun_needs_the_higher_score() -> None:
    found = Detections(np.array([[10, 10, 40, 22]]), np.array([0.9]), np.array([GUN]))
    ruled = apply_person_context(found, PERSON, GUN, SecondLookParams(unheld_factor=0.5), frame_height=1080)
    assert ruled.scores.tolist() == pytest.approx([0.45])


def test_a_gun_large_in_the_frame_is_near_the_camera_and_counts_as_held() -> None:
    """A hand holding a pistol up to the lens: the holder is out of the picture, the gun fills a fifth of it."""
    found = Detections(np.array([[100, 100, 260, 180], [10, 10, 40, 22]]), np.array([0.9, 0.9]), np.array([GUN, GUN]))
    ruled = apply_person_context(found, PERSON, GUN, SecondLookParams(unheld_factor=0.5, near_camera=0.15), 360)
    assert ruled.scores.tolist() == pytest.approx([0.9, 0.45])


def test_a_factor_of_one_turns_the_rule_off() -> None:
    found = Detections(np.array([[10, 10, 40, 22]]), np.array([0.9]), np.array([GUN]))
    ruled = apply_person_context(found, PERSON, GUN, SecondLookParams(unheld_factor=1.0), frame_height=1080)
    assert ruled.scores.tolist() == pytest.approx([0.9])


@pytest.mark.parametrize(
    ("analysis", "tiles", "expected"),
    [
        ((1920, 1080), "off", 416 / 1920),  # letterboxed whole into the input
        ((960, 540), "off", 416 / 1920),  # analysed smaller, letterboxed the same: the scale is the input's
        ((1920, 1080), "on", 1.0),  # tiles see the frame at its own resolution
        ((1920, 1080), "auto", 1.0),  # more than twice the input: tiled
        ((960, 540), "on", 0.5),  # tiles of the half-size analysis image
        ((640, 360), "auto", 416 / 1920),  # small enough not to be tiled
    ],
)
def test_first_pass_scale(analysis: tuple[int, int], tiles: str, expected: float) -> None:
    assert first_pass_scale(1920, analysis, 416, tiles) == pytest.approx(expected)


def test_first_pass_scale_of_a_frame_shaped_input() -> None:
    # A 1080p frame letterboxed into 640 x 384 is seen at a third; tiling still decides by the model's side.
    assert first_pass_scale(1920, (1920, 1080), 416, "off", whole_side=640) == pytest.approx(1 / 3)
    assert first_pass_scale(1920, (960, 540), 416, "off", whole_side=416) == pytest.approx(416 / 1920)
    assert first_pass_scale(1920, (1920, 1080), 416, "auto", whole_side=640) == pytest.approx(1.0)
