"""A decoded frame of one camera, the unit that flows from sources to detection, tracking and evidence."""

from __future__ import annotations

import math
import threading
from dataclasses import dataclass, replace

import av
import numpy as np
from PIL import Image

from gunwatch.config.camera import Camera, Deinterlace, Fisheye
from gunwatch.data.images import resize_to
from gunwatch.video.aspect import sample_aspect, shown_size
from gunwatch.video.fields import uncombed, woven
from gunwatch.video.fisheye import circle_advice, panorama_size, unwrapped
from gunwatch.video.orientation import quarter_turns, stream_rotation, turned


@dataclass(frozen=True)
class PictureRules:
    """How a camera's pictures are made ready to be looked at: its `rotate`, `deinterlace`, `aspect` and `fisheye`."""

    rotate_cw: int = 0  # degrees clockwise that turn the picture upright (video/orientation.py)
    deinterlace: Deinterlace = "auto"  # when the comb is taken out (video/fields.py)
    aspect: str = "auto"  # the stored picture's shape as shown (video/aspect.py)
    fisheye: Fisheye | None = None  # a ceiling fisheye's circle, unwrapped into half panoramas (video/fisheye.py)

    @classmethod
    def of(cls, camera: Camera) -> PictureRules:
        return cls(camera.rotate, camera.deinterlace, camera.aspect, camera.fisheye)


AS_SENT = PictureRules()  # a picture used as it comes (square pixels unless the stream says otherwise)


class Frame:
    """One picture of a camera, with its stream timestamp and arrival time.

    A source may hand over the decoder's own picture (`av.VideoFrame`, still YUV): it becomes RGB only
    when someone reads `image`. A camera decodes 15 frames a second but the pipeline samples 5, so the
    two thirds it drops are never converted, and `reduced` scales the decoder's picture straight to the
    evidence size without converting it at full size first.

    The frame is the picture as a person would see it, under the camera's `PictureRules`: an interlaced picture
    has its comb taken out (`video/fields.py`; `reduced` averages its lines instead, which is enough for evidence
    pictures), it is stretched to its shape as shown (`video/aspect.py`), a fisheye's circle is unwrapped into
    upright half panoramas (`video/fisheye.py`), then the picture is turned upright (`video/orientation.py`): by its
    stream's display matrix, then by the camera's `rotate`.
    """

    __slots__ = ("_fisheye", "_image", "_lock", "_picture", "_sar", "_sent", "_turns", "_woven", "camera", "index",
                 "pts", "received")

    def __init__(self, camera: str, image: np.ndarray | av.VideoFrame, index: int, pts: float | None,
                 received: float, rules: PictureRules = AS_SENT):
        self.camera = camera
        self.index = index  # frames decoded so far by this camera's source (0-based; restarts never reuse one)
        self.pts = pts  # the stream's own timestamp in seconds, None when the stream carries none
        self.received = received  # wall-clock time (time.time()) when the frame was decoded
        self._picture = image if isinstance(image, av.VideoFrame) else None
        stream_ccw = stream_rotation(self._picture) if self._picture is not None else 0
        self._turns = quarter_turns(stream_ccw, rules.rotate_cw)  # applied when the picture becomes RGB
        self._woven = woven(image, rules.deinterlace)  # likewise
        self._sar = sample_aspect(image, rules.aspect)  # likewise
        self._sent = ((image.width, image.height) if isinstance(image, av.VideoFrame)
                      else (image.shape[1], image.shape[0]))
        self._fisheye = rules.fisheye
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

    @property
    def panoramic(self) -> bool:
        """Whether the picture is a fisheye's circle unwrapped into two half panoramas (the camera's status says so)."""
        return self._fisheye is not None

    @property
    def sent_size(self) -> tuple[int, int] | None:
        """(width, height) as the camera sent the picture, when it is stretched to its shape as shown; else None."""
        return self._sent if shown_size(*self._sent, self._sar) != self._sent else None

    def _shown(self, rgb: np.ndarray) -> np.ndarray:
        """The stored picture as shown."""
        # The comb first: stretching the lines apart would leave it in both fields.
        rgb = resize_to(uncombed(rgb) if self._woven else rgb, shown_size(rgb.shape[1], rgb.shape[0], self._sar))
        return turned(unwrapped(rgb, self._fisheye) if self._fisheye is not None else rgb, self._turns)

    def _unturned_size(self) -> tuple[int, int]:
        width, height = shown_size(*self._sent, self._sar)
        return panorama_size(width, height, self._fisheye) if self._fisheye is not None else (width, height)

    @property
    def size(self) -> tuple[int, int]:
        """(width, height), upright"""
        if self._image is None and self._picture is not None:
            width, height = self._unturned_size()
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
            # Scaled to its shape as shown and converted in one pass by FFmpeg (area average), from the decoder's
            # YUV; unwrapped (a fisheye) and turned after.
            shown_width, shown_height = shown_size(*self._sent, self._sar)
            with self._lock:
                small = self._picture.reformat(max(1, shown_width // factor), max(1, shown_height // factor),
                                              "rgb24", interpolation="AREA")
            unturned_width, unturned_height = self._unturned_size()
            target = (max(1, unturned_width // factor), max(1, unturned_height // factor))
            rgb = small.to_ndarray()
            image = turned(unwrapped(rgb, self._fisheye, target) if self._fisheye is not None else rgb, self._turns)
        else:
            image = np.asarray(Image.fromarray(self.image).reduce(factor))
        return Frame(self.camera, image, self.index, self.pts, self.received)

    def __repr__(self) -> str:
        width, height = self.size
        return f"Frame({self.camera!r}, {width}x{height}, index={self.index}, pts={self.pts}, received={self.received})"


def picture_notes(frame: Frame) -> str:
    """What was done to a camera's picture before anything looked, for its status and `config check --reach`:
    " (interlaced: combs taken out; sent as 720x576, stretched to its shape)", or "" when nothing was."""
    notes = ["interlaced: combs taken out"] if frame.interlaced else []
    if (sent := frame.sent_size) is not None:
        notes.append(f"sent as {sent[0]}x{sent[1]}, stretched to its shape")
    if frame.panoramic:
        notes.append("fisheye: unwrapped into two half panoramas")
    return f" ({'; '.join(notes)})" if notes else ""


def circle_check(picture: np.ndarray | av.VideoFrame, rules: PictureRules) -> str:
    """For a fisheye camera, what to set when one of its pictures shows the circle elsewhere than its `fisheye`
    says ("" when it is where it says, cannot be seen, or the camera is no fisheye): a circle set wrong unwraps
    panoramas of the wrong place, and nothing else would say so."""
    if rules.fisheye is None:
        return ""
    stored = Frame("circle", picture, 0, None, 0.0, replace(rules, fisheye=None)).image
    return circle_advice(stored, rules.fisheye)
