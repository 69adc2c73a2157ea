"""Image preparation shared by training and the runtime, so both see exactly the same pixels."""

from __future__ import annotations

import numpy as np
from PIL import Image


def resize_rgb(image: np.ndarray, size: int) -> np.ndarray:
    """Stretch an HxWx3 uint8 RGB image to size x size (the localizer's input; aspect is not kept)."""
    return np.asarray(Image.fromarray(image).resize((size, size), Image.BILINEAR))


def to_nchw_float(images: list[np.ndarray]) -> np.ndarray:
    """A batch of equal-size HxWx3 uint8 images to N x 3 x H x W float32 in 0..1."""
    batch = np.stack(images).astype(np.float32) / 255.0
    return np.ascontiguousarray(batch.transpose(0, 3, 1, 2))
