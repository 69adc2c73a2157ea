"""FrameAnalyzer: frames of several cameras in one pass, each at its own size and tile mode."""

from __future__ import annotations

import numpy as np
import pytest

from gunwatch.inference.detections import Detections
from gunwatch.inference.input_shape import frame_input_shape
from gunwatch.pipeline.analysis import AnalysisRequest, FrameAnalyzer, analysis_size


class BoxAtCentre:
    """A stand-in model: one box of 10 % of the image around its centre; records the sizes it saw."""

    name, class_names, threshold = "centre", ("handgun",), 0.5

    def __init__(self) -> None:
        self.calls: list[list[tuple[int, int]]] = []

    def detect(self, images: list[np.ndarray]) -> list[Detections]:
        self.calls.append([(image.shape[1], image.shape[0]) for image in images])
        out = []
        for image in images:
            h, w = image.shape[:2]
            out.append(Detections([[0.45 * w, 0.45 * h, 0.55 * w, 0.55 * h]], [0.9], [0]))
        return out


def test_analysis_size_keeps_the_aspect_and_never_enlarges() -> None:
    assert analysis_size((1920, 1080), None, None) == (1920, 1080)
    assert analysis_size((1920, 1080), 960, None) == (960, 540)
    assert analysis_size((1920, 1080), None, 360) == (640, 360)
    assert analysis_size((640, 360), 1280, None) == (640, 360)


def test_boxes_come_back_in_the_frames_own_pixels_and_modes_are_grouped() -> None:
    model = BoxAtCentre()
    analyzer = FrameAnalyzer(model, input_side=64)
    big = np.zeros((1080, 1920, 3), np.uint8)
    small = np.zeros((240, 320, 3), np.uint8)
    results = analyzer.analyse([
        AnalysisRequest(big, tiles="off", width=960),
        AnalysisRequest(small, tiles="off"),
        AnalysisRequest(small, tiles="on"),
    ])
    # Analysed at 960 x 540, reported in 1920 x 1080 pixels.
    np.testing.assert_allclose(results[0].xyxy[0], [0.45 * 1920, 0.45 * 1080, 0.55 * 1920, 0.55 * 1080], atol=1)
    np.testing.assert_allclose(results[1].xyxy[0], [144, 108, 176, 132], atol=1)
    # The untiled frames went in one call; the tiled one in another, with its tiles.
    assert model.calls[0] == [(960, 540), (320, 240)]
    assert len(model.calls[1]) > 1 and model.calls[1][0] == (320, 240)
    assert len(results[2]) >= 1


class FrameShaped(BoxAtCentre):
    """The stand-in with frame-shaped input: frames over 720p go into a larger input (see `input_shape`)."""

    def input_shape_for(self, height: int, width: int) -> tuple[int, int]:
        return frame_input_shape(height, width, 416, 640)


def test_the_second_look_is_told_the_scale_each_frame_was_seen_at(monkeypatch) -> None:
    # The crops are planned from how small a person came out in the first pass: with frame-shaped input a
    # 1080p frame is seen at 640 / 1920, not 416 / 1920; a frame analysed at 720p is seen at 416 / 1280.
    model = FrameShaped()
    model.class_names = ("person", "handgun")
    analyzer = FrameAnalyzer(model, input_side=416)
    told: list[list[float]] = []
    monkeypatch.setattr(analyzer.second_look, "refine", lambda frames, first, scales: told.append(scales) or first)
    frame = np.zeros((1080, 1920, 3), np.uint8)
    analyzer.analyse([AnalysisRequest(frame, tiles="off", second_look=True),
                      AnalysisRequest(frame, tiles="off", width=1280, second_look=True),
                      AnalysisRequest(frame, tiles="on", second_look=True)])
    assert told == [[pytest.approx(640 / 1920), pytest.approx(416 / 1920), pytest.approx(1.0)]]
    # And the first pass got the frames whole (the runtime letterboxes them into their own rectangles).
    assert model.calls[0] == [(1920, 1080), (1280, 720)]
