"""Photos the way phones write them: the pixels stored turned, with an EXIF orientation tag that turns them back.

    write_turned(path, shown, 6)   # `shown` (H x W x 3) stored as W x H pixels, tagged "turn a quarter clockwise"

PNG keeps pixels exact (for equality checks); JPEG is what cameras write.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

# The transpose that undoes each orientation's: the stored pixels are the shown ones turned back.
_INVERSE = {
    2: Image.Transpose.FLIP_LEFT_RIGHT,
    3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_90,
    7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_270,
}


def write_turned(path: Path, shown: np.ndarray, orientation: int, quality: int = 95) -> Path:
    """Stores `shown` so that a viewer honouring the EXIF tag shows exactly `shown`."""
    image = Image.fromarray(shown)
    stored = image.transpose(_INVERSE[orientation]) if orientation in _INVERSE else image
    exif = Image.Exif()
    exif[0x0112] = orientation
    options = {"quality": quality} if path.suffix.lower() in (".jpg", ".jpeg") else {}
    stored.save(path, exif=exif, **options)
    return path


def picture_with_square(width: int, height: int, box: tuple[int, int, int, int]) -> np.ndarray:
    """A dark width x height picture, white inside the xyxy `box`, with a grey gradient so that no two turns of it
    are equal."""
    picture = np.zeros((height, width, 3), np.uint8)
    picture[..., 0] = np.linspace(0, 120, width, dtype=np.uint8)[None, :]
    picture[..., 1] = np.linspace(0, 120, height, dtype=np.uint8)[:, None]
    x1, y1, x2, y2 = box
    picture[y1:y2, x1:x2] = 255
    return picture


def white_box(image: np.ndarray) -> list[float]:
    """The xyxy box around the pixels that are white in every channel."""
    ys, xs = np.nonzero((image > 240).all(axis=2))
    return [float(xs.min()), float(ys.min()), float(xs.max() + 1), float(ys.max() + 1)]
