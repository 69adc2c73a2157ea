"""One detector for every camera: frames of many cameras analysed together, each with its tile mode.

Frames are grouped by tile mode so that each group is one call into the runtime, which batches them
(and, for tiled frames, every tile of every frame), one batch per input shape (frames over 720p go into a
larger input of their own aspect, see `gunwatch.inference.input_shape`). A camera may be analysed at a lower
resolution than it streams at; boxes come back in the frame's own pixels either way. Then the second look:
the people the first pass found in frames that ask for it are cropped from the full-resolution frames, and
all those crops go to the runtime in one more call (`gunwatch.inference.second_look`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from gunwatch.data.images import resize_to
from gunwatch.inference.alarm_threshold import alarm_threshold
from gunwatch.inference.base import Detector
from gunwatch.inference.detections import Detections
from gunwatch.inference.input_shape import whole_image_side
from gunwatch.inference.person_crops import SecondLookParams
from gunwatch.inference.second_look import SecondLook, first_pass_scale
from gunwatch.inference.tiling import TiledDetector, TileMode


@dataclass(frozen=True)
class AnalysisRequest:
    image: np.ndarray  # H x W x 3 uint8 RGB, the camera's frame
    tiles: TileMode = "auto"
    width: int | None = None  # analysis size (None: the frame's own; one of them alone keeps the aspect)
    height: int | None = None
    second_look: bool = False  # look again at each person, cropped from `image` at full resolution


def analysis_size(frame_size: tuple[int, int], width: int | None, height: int | None) -> tuple[int, int]:
    """(width, height) to analyse a frame of `frame_size` at; never larger than the frame."""
    frame_width, frame_height = frame_size
    if width is None and height is None:
        return frame_size
    if width is None:
        width = round(frame_width * height / frame_height)
    if height is None:
        height = round(frame_height * width / frame_width)
    return min(width, frame_width), min(height, frame_height)


class FrameAnalyzer:
    """Runs a batch of analysis requests through one detector, tiled where asked."""

    def __init__(self, detector: Detector, input_side: int, second_look: SecondLookParams | None = None):
        self.detector = detector
        self.input_side = input_side
        self.class_names = detector.class_names
        self.threshold = alarm_threshold(detector)  # live alarms: the model's threshold measured on clips
        # The tiled wrappers and the second look share the one runtime session.
        self.tiled = {mode: TiledDetector(detector, input_side, mode) for mode in ("auto", "on")}
        self.second_look = SecondLook(detector, input_side, second_look)

    def analyse(self, requests: list[AnalysisRequest]) -> list[Detections]:
        first = self._first_pass(requests)
        closer = [i for i, request in enumerate(requests) if request.second_look]
        if not closer:
            return first
        refined = self.second_look.refine([requests[i].image for i in closer], [first[i] for i in closer],
                                          [self._seen_scale(requests[i]) for i in closer])
        for i, found in zip(closer, refined, strict=True):
            first[i] = found
        return first

    def _seen_scale(self, request: AnalysisRequest) -> float:
        frame_size = (request.image.shape[1], request.image.shape[0])
        size = analysis_size(frame_size, request.width, request.height)
        whole_side = whole_image_side(self.detector, size[0], size[1], self.input_side)
        return first_pass_scale(frame_size[0], size, self.input_side, request.tiles, whole_side)

    def _first_pass(self, requests: list[AnalysisRequest]) -> list[Detections]:
        results: list[Detections | None] = [None] * len(requests)
        images, scales = [], []
        for request in requests:
            frame_size = (request.image.shape[1], request.image.shape[0])
            size = analysis_size(frame_size, request.width, request.height)
            images.append(resize_to(request.image, size))
            scales.append(np.array([frame_size[0] / size[0], frame_size[1] / size[1]] * 2, np.float32))
        for mode in ("off", "auto", "on"):
            members = [i for i, request in enumerate(requests) if request.tiles == mode]
            if not members:
                continue
            runner = self.detector if mode == "off" else self.tiled[mode]
            for i, found in zip(members, runner.detect([images[i] for i in members]), strict=True):
                results[i] = Detections(found.xyxy * scales[i], found.scores, found.class_ids)
        return [result if result is not None else Detections() for result in results]
