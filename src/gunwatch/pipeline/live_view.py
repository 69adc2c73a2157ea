"""The running watch as the console and metrics see it: each camera's rates and "almost", and its newest frame.

Camera threads only record (`recent`: a reference to the frame and its boxes, no copy, no encoding); the
picture is made here, on the reader's thread (a web server's), once per analysed frame however many consoles
ask: the first asker encodes under the camera's lock, the others wait for it and share the bytes.
"""

from __future__ import annotations

import io
import threading
import time
from dataclasses import dataclass

import numpy as np
from PIL import Image

from gunwatch.inference.detections import Detections
from gunwatch.pipeline.camera_loop import CameraLoop
from gunwatch.pipeline.recent import Analysed
from gunwatch.pipeline.watch import WatchService
from gunwatch.service.live import CameraLive
from gunwatch.video.annotate import draw_detections
from gunwatch.video.frame import Frame

MAX_WIDTH = 960  # a wall tile or one camera large on a control-room screen; a 1080p frame is halved
JPEG_QUALITY = 75  # a few frames a second to many screens: a quarter of the bytes of 95, boxes still sharp


@dataclass(frozen=True)
class _Picture:
    serial: int  # the analysed frame it was made of
    jpeg: bytes
    at: float  # the frame's wall-clock time


class PipelineLiveView:
    """`gunwatch.service.live.LiveView` of a `WatchService` (started or not: cameras show from its start)."""

    def __init__(self, service: WatchService) -> None:
        self.service = service
        self.encoded = 0  # pictures made so far (each analysed frame at most once)
        self.encode_cpu_s = 0.0  # CPU seconds the pictures took (on the web server's threads): the wall's cost
        self._pictures: dict[str, _Picture] = {}
        self._locks: dict[str, threading.Lock] = {}
        self._guard = threading.Lock()  # for the two dicts above and `encoded`

    def cameras(self) -> list[CameraLive]:
        loops = {loop.name: loop for loop in self.service.loops}
        rows = []
        for status in self.service.status():
            loop = loops[status.camera]
            rates = loop.recent.rates()
            rows.append(CameraLive(status.camera, status.state, status.reason, rates.fps_in, rates.fps_analysed,
                                   status.frames_in, status.dropped, status.analysed, status.still, rates.infer_ms,
                                   rates.top_score, loop.confirmer.threshold, status.events, status.restarts))
        return rows

    def frame_jpeg(self, camera: str) -> tuple[bytes, float] | None:
        loop = self._loop(camera)
        if loop is None:
            return None
        newest = loop.recent.newest()
        if newest is None:
            return None
        with self._lock_of(camera):
            picture = self._pictures.get(camera)
            if picture is None or picture.serial != newest.serial:
                started = time.thread_time()
                picture = _Picture(newest.serial, live_jpeg(newest, loop.class_names), newest.frame.received)
                spent = time.thread_time() - started
                with self._guard:
                    self._pictures[camera] = picture
                    self.encoded += 1
                    self.encode_cpu_s += spent
        return picture.jpeg, picture.at

    def _loop(self, camera: str) -> CameraLoop | None:
        return next((loop for loop in self.service.loops if loop.name == camera), None)

    def _lock_of(self, camera: str) -> threading.Lock:
        with self._guard:
            return self._locks.setdefault(camera, threading.Lock())


def live_jpeg(analysed: Analysed, class_names: tuple[str, ...]) -> bytes:
    """The frame at most MAX_WIDTH wide with the boxes that count drawn, as a JPEG."""
    image, shown = scaled(analysed.frame, analysed.shown, MAX_WIDTH)
    buffer = io.BytesIO()
    Image.fromarray(draw_detections(image, shown, class_names)).save(buffer, format="JPEG", quality=JPEG_QUALITY)
    return buffer.getvalue()


def scaled(frame: Frame, shown: Detections, max_width: int) -> tuple[np.ndarray, Detections]:
    """The frame's picture at most `max_width` wide, and the boxes in its pixels (drawn after scaling, so lines
    and labels keep their size on the screen)."""
    small = frame.reduced(max_width)
    if small is frame:
        return frame.image, shown
    factor = small.size[0] / frame.size[0]
    return small.image, Detections(shown.xyxy * factor, shown.scores, shown.class_ids)
