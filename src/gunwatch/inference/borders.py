"""Black bars left out: the detector looks at the picture inside them, not at the bars.

Recorded CCTV reaches people as video of another shape than the camera's: a 4:3 camera in a 16:9 file with
black bars left and right (pillarbox; `sachith_night-lane-cctv` among the shared clips is 960 x 720 of picture
in a 1280 x 720 file), a wide picture with bars above and below (letterbox). The bars cost the detector
pixels: it scales the whole file into its input, so the picture inside comes out smaller than it would alone
(a quarter smaller for a 4:3 picture in 16:9). Each image's bars are found on its own (no state: a camera that
changes its shape, a folder of photos), and only bars that are surely bars are left out: both sides black (no
pixel above `DARK`), each at least `MIN_BAR` of the side, the two within `BALANCE` of each other (bars are
centred; a dark corner of a night scene is not), and at least half the image left. Boxes are mapped back to the
whole image's pixels, so nothing downstream knows.
"""

from __future__ import annotations

import numpy as np

from gunwatch.inference.detections import Detections

DARK = 24  # brightest value of a black bar after video coding (its noise and ringing)
MIN_BAR = 0.04  # a bar narrower than this share of the side is not worth a different input
BALANCE = 0.02  # the two bars of a side differ by at most this share of it (and 2 px)
MIN_KEPT = 0.5  # what is left is at least this share of each side
_SAMPLE = 8  # every 8th line is enough to tell a black bar from a picture


def _bars(bright: np.ndarray) -> tuple[int, int] | None:
    """The black bars (first, last) of one side, from which of its lines hold a pixel brighter than DARK; None
    when they are not surely bars."""
    lit = np.flatnonzero(bright)
    if lit.size == 0:
        return None  # all dark: a picture at night, not a bar
    side = bright.size
    first, last = int(lit[0]), side - 1 - int(lit[-1])
    if min(first, last) < MIN_BAR * side or abs(first - last) > BALANCE * side + 2:
        return None
    if side - first - last < MIN_KEPT * side:
        return None
    return first, last


def content_box(image: np.ndarray) -> tuple[int, int, int, int] | None:
    """xyxy of the picture inside an H x W x 3 image's black bars; None when it has none worth leaving out."""
    height, width = image.shape[:2]
    # Whole lines reduced at once (a 1080p frame in about 1 ms; max over two axes of a strided view is 10x slower).
    columns = _bars(image[::_SAMPLE].reshape(-1, width * 3).max(axis=0).reshape(width, 3).max(axis=1) > DARK)
    rows = _bars(image[:, ::_SAMPLE].reshape(height, -1).max(axis=1) > DARK)
    if columns is None and rows is None:
        return None
    left, right = columns or (0, 0)
    top, bottom = rows or (0, 0)
    return left, top, width - right, height - bottom


def inside_bars(images: list[np.ndarray]) -> tuple[list[np.ndarray], list[tuple[int, int]]]:
    """Each image's picture inside its black bars (the image itself when it has none), and where that picture's
    top-left corner lies in the image."""
    pictures, corners = [], []
    for image in images:
        box = content_box(image)
        if box is None:
            pictures.append(image)
            corners.append((0, 0))
        else:
            left, top, right, bottom = box
            pictures.append(np.ascontiguousarray(image[top:bottom, left:right]))
            corners.append((left, top))
    return pictures, corners


def moved_back(detections: Detections, corner: tuple[int, int]) -> Detections:
    """Detections in a picture's pixels moved into the pixels of the image it was cut from."""
    if corner == (0, 0):
        return detections
    dx, dy = corner
    return Detections(detections.xyxy + np.array([dx, dy, dx, dy], np.float32), detections.scores,
                      detections.class_ids)
