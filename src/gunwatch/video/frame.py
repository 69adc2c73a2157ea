"""A decoded frame of one camera, the unit that flows from sources to detection, tracking and evidence."""

from __future__ import annotations

import math
import threading

import av
import numpy as np
from PIL import Image

from gunwatch.video.fields import Deinterlace, uncombed, woven
from gunwatch.video.orientation import quarter_turns, stream_rotation, turned


class Frame:
    """One picture of a camera, with its stream timestamp and arrival time.

    A source may hand over the decoder's own picture (`av.VideoFrame`, still YUV): it becomes RGB only
    when someone reads `image`. A camera decodes 15 frames a second but the pipeline samples 5, so the
    two thirds it drops are never converted, and `reduced` scales the decoder's picture straight to the
    evidence size without converting it at full size first.

    The frame is the picture upright (`video/orientation.py`): the decoder's picture turned by its stream's
    display matrix, then any picture by `rotate_cw` degrees clockwise (the camera's `rotate`). An interlaced
    picture has its comb taken out (`video/fields.py`, the camera's `deinterlace`); `reduced` averages its
    lines instead, which is enough for evidence pictures.
    """

    __slots__ = ("_image", "_lock", "_picture", "_turns", "_woven", "camera", "index", "pts", "received")

    def __init__(self, camera: str, image: np.ndarray | av.VideoFrame, index: int, pts: float | None,
                 received: float, rotate_cw: int = 0, deinterlace: Deinterlace = "auto"):
        self.camera = camera
        self.index = index  # frames decoded so far by this camera's source (0-based; restarts never reuse one)
        self.pts = pts  # the stream's own timestamp in seconds, None when the stream carries none
        self.received = received  # wall-clock time (time.time()) when the frame was decoded
        self._picture = image if isinstance(image, av.VideoFrame) else None
        stream_ccw = stream_rotation(self._picture) if self._picture is not None else 0
        self._turns = quarter_turns(stream_ccw, rotate_cw)  # applied when the picture becomes RGB
        self._woven = woven(image, deinterlace)  # likewise
        self._image: np.ndarray | None = self._shown(image) if isinstance(image, np.ndarray) else None
        # A PyAV frame converts through its own scaler context, which two threads must not use at once (the
        # clip encoder and the pipeline can both read a frame the ring kept): one conversion at a time.
        self._lock = threading.Lock()

    @property
    def image(self) -> np.ndarray:
        """H x W x 3 uint8 RGB (converted on first use, once, whichever thread asks first)."""
        image = self._image
        if image is None:
            with self._lock:
                if self._image is None:
                    assert self._picture is not None
                    self._image = self._shown(self._picture.to_ndarray(format="rgb24"))
                image = self._image
        return image

    @property
    def interlaced(self) -> bool:
        """Whether the picture is interlaced and has its comb taken out (the camera's status says so)."""
        return self._woven

    def _shown(self, rgb: np.ndarray) -> np.ndarray:
        return turned(uncombed(rgb) if self._woven else rgb, self._turns)

    @property
    def size(self) -> tuple[int, int]:
        """(width, height), upright"""
        if self._image is None and self._picture is not None:
            width, height = self._picture.width, self._picture.height
            return (height, width) if self._turns % 2 else (width, height)
        return self.image.shape[1], self.image.shape[0]

    def reduced(self, max_width: int, max_height: int | None = None) -> Frame:
        """This frame at most `max_width` px wide and, when given, `max_height` px tall (itself when it already
        fits), by an integer factor (1280 -> 640, 1920 -> 640, 704 -> 352) that averages pixels rather than
        dropping them."""
        width, height = self.size
        factor = math.ceil(max(width / max_width, height / max_height if max_height else 0.0))
        if factor <= 1:
            return self
        if self._image is None and self._picture is not None:
            # Scaled and converted in one pass by FFmpeg (area average), from the decoder's YUV; turned after.
            stored_width, stored_height = self._picture.width, self._picture.height
            with self._lock:
                small = self._picture.reformat(max(1, stored_width // factor), max(1, stored_height // factor),
                                              "rgb24", interpolation="AREA")
            image = turned(small.to_ndarray(), self._turns)
        else:
            image = np.asarray(Image.fromarray(self.image).reduce(factor))
        return Frame(self.camera, image, self.index, self.pts, self.received)

    def __repr__(self) -> str:
        width, height = self.size
        return f"Frame({self.camera!r}, {width}x{height}, index={self.index}, pts={self.pts}, received={self.received})"
