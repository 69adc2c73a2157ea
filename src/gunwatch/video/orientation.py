"""Which way up a camera's picture is shown.

Two things can turn it: the stream itself (a phone records a portrait clip as landscape pixels plus a display
matrix that turns them; players, FFmpeg's command line and the browser honour it, PyAV leaves it to the
caller) and the camera's mounting (a camera on its side for a corridor, upside down on a ceiling bracket
without its own flip setting: the site file's `rotate`). The detector learnt upright people, so every frame
is turned upright before anything looks at it, and zones, masks, snapshots and clips are in the upright picture.
"""

from __future__ import annotations

import av
import numpy as np


def stream_rotation(picture: av.VideoFrame) -> int:
    """Degrees counter-clockwise the stream's display matrix turns the picture (0 without one), to a quarter."""
    return round(picture.rotation / 90) * 90 % 360


def quarter_turns(stream_ccw: int = 0, rotate_cw: int = 0) -> int:
    """np.rot90's k (counter-clockwise quarter turns, 0-3): the stream's own turn, then the camera's `rotate`."""
    return (stream_ccw - rotate_cw) // 90 % 4


def turned(image: np.ndarray, turns: int) -> np.ndarray:
    """The picture turned `turns` quarters counter-clockwise (contiguous, as image libraries want it); itself
    when `turns` is 0."""
    return image if turns % 4 == 0 else np.ascontiguousarray(np.rot90(image, turns))
