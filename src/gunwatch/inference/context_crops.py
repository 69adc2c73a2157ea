"""Square crops around candidate boxes, with context, cut the same way for training and at run time.

The gun verifier judges one candidate at a time: the box widened to `context` times its longer side (the
hand, the sleeve, the table around it), made square about the box's centre and resized to the verifier's
input side. Where the square leaves the image, the missing part is the letterbox grey (114), as the
detector sees beyond a frame's edge. Training crops and run-time crops come from this one function, so
the verifier never sees a crop cut differently from those it learned on.
"""

from __future__ import annotations

import numpy as np
from PIL import Image

PAD_VALUE = 114
MIN_SIDE = 8.0  # pixels: a box narrower than this is widened to it before the context (a 3 px box is noise)


def context_squares(boxes: np.ndarray, context: float) -> np.ndarray:
    """(N, 4) xyxy boxes -> (N, 4) integer xyxy squares of `context` times the box's longer side,
    centred on the box (they may reach outside the image)."""
    boxes = np.asarray(boxes, np.float64).reshape(-1, 4)
    centre_x, centre_y = (boxes[:, 0] + boxes[:, 2]) / 2, (boxes[:, 1] + boxes[:, 3]) / 2
    sides = np.maximum(np.maximum(boxes[:, 2] - boxes[:, 0], boxes[:, 3] - boxes[:, 1]), MIN_SIDE) * context
    sides = np.maximum(np.rint(sides), 1)
    x1, y1 = np.rint(centre_x - sides / 2), np.rint(centre_y - sides / 2)
    return np.stack([x1, y1, x1 + sides, y1 + sides], axis=1).astype(np.int64)


def cut_square(image: np.ndarray, square: np.ndarray, side: int) -> np.ndarray:
    """The square (x1, y1, x2, y2; may reach outside) of an HxWx3 image, resized to side x side."""
    height, width = image.shape[:2]
    x1, y1, x2, y2 = (int(v) for v in square)
    inside = image[max(y1, 0) : min(y2, height), max(x1, 0) : min(x2, width)]
    canvas = np.full((y2 - y1, x2 - x1, 3), PAD_VALUE, np.uint8)
    if inside.size:
        top, left = max(-y1, 0), max(-x1, 0)
        canvas[top : top + inside.shape[0], left : left + inside.shape[1]] = inside
    # Area averaging when shrinking (no aliasing on a large gun), bilinear when enlarging a small one. PIL, as
    # the letterbox: the runtime has no OpenCV.
    resample = Image.Resampling.BOX if canvas.shape[0] > side else Image.Resampling.BILINEAR
    return np.asarray(Image.fromarray(canvas).resize((side, side), resample))


def cut_context_crops(image: np.ndarray, boxes: np.ndarray, context: float, side: int) -> np.ndarray:
    """(N, side, side, 3) uint8 crops of `image` around each box."""
    squares = context_squares(boxes, context)
    if len(squares) == 0:
        return np.zeros((0, side, side, 3), np.uint8)
    return np.stack([cut_square(image, square, side) for square in squares])
