"""Black bars left out: found only where they surely are, and boxes found inside them land in the whole image."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from gunwatch.inference.borders import content_box, inside_bars
from gunwatch.inference.onnx_session import open_session
from gunwatch.inference.onnx_yolox import OnnxYolox
from support.yolox_graph import yolox_graph

RNG = np.random.default_rng(0)
PICTURE = RNG.integers(40, 255, (360, 480, 3), dtype=np.uint8)  # a 4:3 picture


def framed(picture: np.ndarray, width: int, height: int, left: int, top: int, bar: int = 0) -> np.ndarray:
    frame = np.full((height, width, 3), bar, np.uint8)
    frame[top : top + picture.shape[0], left : left + picture.shape[1]] = picture
    return frame


def test_a_4_3_picture_in_a_16_9_frame_is_found_inside_its_bars() -> None:
    assert content_box(framed(PICTURE, 640, 360, 80, 0)) == (80, 0, 560, 360)


def test_a_wide_picture_between_bars_above_and_below() -> None:
    assert content_box(framed(PICTURE, 480, 480, 0, 60)) == (0, 60, 480, 420)


def test_bars_with_coding_noise_are_still_bars() -> None:
    frame = framed(PICTURE, 640, 360, 80, 0)
    frame[:, :80] = RNG.integers(0, 25, (360, 80, 3))
    frame[:, 560:] = RNG.integers(0, 25, (360, 80, 3))
    assert content_box(frame) == (80, 0, 560, 360)


@pytest.mark.parametrize(("case", "frame"), [
    ("no bars", PICTURE),
    ("thin bars (2 %)", framed(PICTURE[:, :464], 480, 360, 8, 0)),
    ("a dark side of the scene only (a night corner)", framed(PICTURE, 560, 360, 80, 0)),
    ("bars far from even", framed(PICTURE[:, :400], 560, 360, 40, 0)),
    ("grey bars", framed(PICTURE, 640, 360, 80, 0, bar=60)),
    ("less than half left", framed(PICTURE[:, :200], 640, 360, 220, 0)),
    ("all dark (night)", np.full((360, 640, 3), 10, np.uint8)),
])
def test_what_is_not_surely_a_pair_of_bars_is_kept(case: str, frame: np.ndarray) -> None:
    assert content_box(frame) is None, case


def test_images_without_bars_pass_as_they_are() -> None:
    pictures, corners = inside_bars([PICTURE, framed(PICTURE, 640, 360, 80, 0)])
    assert pictures[0] is PICTURE and corners == [(0, 0), (80, 0)]
    np.testing.assert_array_equal(pictures[1], PICTURE)


def test_the_runtime_finds_in_the_bars_what_it_finds_in_the_picture_moved_by_the_bar(tmp_path: Path) -> None:
    graph = yolox_graph(tmp_path / "tiny-yolox.onnx", input_size=64)
    detector = OnnxYolox(graph, open_session(graph, threads=1))
    picture = PICTURE[::6, ::6]  # 60 x 80
    alone, pillarboxed = detector.detect([picture, framed(picture, 108, 60, 14, 0)])
    assert len(alone) > 0
    np.testing.assert_allclose(pillarboxed.xyxy, alone.xyxy + np.array([14, 0, 14, 0]))
    np.testing.assert_array_equal(pillarboxed.scores, alone.scores)
    np.testing.assert_array_equal(pillarboxed.class_ids, alone.class_ids)
