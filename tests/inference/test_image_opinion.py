"""The whole-image opinion: the localizer's probability raises each image's top gun box, and nothing else."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from gunwatch.data.images import load_rgb
from gunwatch.inference.detections import Detections
from gunwatch.inference.image_opinion import ImageOpinionDetector, raise_top_gun
from gunwatch.inference.loading import SHIPPED_DETECTOR, SHIPPED_LOCALIZER, load_detector

PERSON, GUN = 0, 1
SAMPLE = Path(__file__).resolve().parents[2] / "samples" / "pistol-sample"


def found() -> Detections:
    """A person (0.95), the best gun (0.6) and a weaker one (0.3)."""
    return Detections([[0, 0, 50, 90], [10, 10, 20, 20], [30, 30, 40, 40]], [0.95, 0.6, 0.3], [PERSON, GUN, GUN])


@pytest.mark.parametrize(("opinion", "raised"), [(0.5, 0.8), (0.0, 0.6), (1.0, 1.0), (1.7, 1.0), (-0.2, 0.6)])
def test_only_the_best_gun_is_raised_by_noisy_or(opinion: float, raised: float) -> None:
    result = raise_top_gun(found(), GUN, opinion)
    assert result.scores.tolist() == pytest.approx([0.95, raised, 0.3])  # 1 - 0.4 * (1 - opinion), clipped
    np.testing.assert_array_equal(result.xyxy, found().xyxy)
    np.testing.assert_array_equal(result.class_ids, found().class_ids)


def test_an_image_without_a_gun_box_is_left_as_it_is() -> None:
    people = Detections([[0, 0, 50, 90]], [0.95], [PERSON])
    assert raise_top_gun(people, GUN, 0.99).scores.tolist() == pytest.approx([0.95])
    assert len(raise_top_gun(Detections(), GUN, 0.99)) == 0


class Fixed:
    """A detector that says the same for every image (one entry per image, in order)."""

    def __init__(self, name: str, class_names: tuple[str, ...], answers: list[Detections]):
        self.name, self.class_names, self.threshold, self.answers = name, class_names, 0.5, answers
        self.calls: list[int] = []

    def detect(self, images: list[np.ndarray]) -> list[Detections]:
        self.calls.append(len(images))
        return self.answers[: len(images)]


def test_each_image_gets_its_own_opinion_in_one_call_of_each_model() -> None:
    inner = Fixed("pair", ("person", "handgun"), [found(), found()])
    says = [Detections([[0, 0, 9, 9]], [probability], [0]) for probability in (0.5, 0.0)]
    opinion = Fixed("whole", ("handgun",), says)
    detector = ImageOpinionDetector(inner, opinion)
    first, second = detector.detect([np.zeros((8, 8, 3), np.uint8)] * 2)
    assert first.scores.tolist() == pytest.approx([0.95, 0.8, 0.3]) and second.scores.tolist() == pytest.approx(
        [0.95, 0.6, 0.3])
    assert inner.calls == [2] and opinion.calls == [2]
    assert detector.name == "pair+whole" and detector.threshold == 0.5 and detector.class_names == ("person", "handgun")
    assert detector.detect([]) == [] and opinion.calls == [2]  # nothing to judge: the opinion is not asked


def test_the_shipped_localizer_never_lowers_the_shipped_pairs_scores_on_the_sample() -> None:
    pair = load_detector(SHIPPED_DETECTOR, verifier="auto")
    both = ImageOpinionDetector(pair, load_detector(SHIPPED_LOCALIZER))
    images = [load_rgb(path) for path in sorted(SAMPLE.rglob("*.jpg"))[:8]]
    raised = 0
    for alone, with_opinion in zip(pair.detect(images), both.detect(images), strict=True):
        np.testing.assert_array_equal(alone.xyxy, with_opinion.xyxy)
        assert (with_opinion.scores >= alone.scores).all()
        raised += int((with_opinion.scores > alone.scores).sum())
    assert raised > 0  # the localizer sees guns in the sample's gun photos
