"""Aspect-keeping resize with padding (YOLOX style) and the inverse mapping of boxes."""

from __future__ import annotations

import numpy as np
from PIL import Image

# YOLOX was trained with this grey in the padding; another value shifts its scores near the border.
PAD_VALUE = 114


def letterbox(image: np.ndarray, size: tuple[int, int]) -> tuple[np.ndarray, float]:
    """Resize an HxWx3 uint8 image into ``size`` (height, width) keeping its aspect, padded bottom/right.

    The image stays top-left aligned so unletterboxing is a division only (no offset to undo).
    Returns the padded image and the scale applied to the original pixels.
    """
    target_h, target_w = size
    height, width = image.shape[:2]
    scale = min(target_h / height, target_w / width)
    new_w, new_h = max(1, round(width * scale)), max(1, round(height * scale))
    resized = np.asarray(Image.fromarray(image).resize((new_w, new_h), Image.BILINEAR))
    padded = np.full((target_h, target_w, 3), PAD_VALUE, dtype=np.uint8)
    padded[:new_h, :new_w] = resized
    return padded, scale


def unletterbox_boxes(xyxy: np.ndarray, scale: float, original_shape: tuple[int, ...]) -> np.ndarray:
    """Map xyxy boxes from the letterboxed input back to the original image, clipped to it."""
    height, width = original_shape[:2]
    boxes = np.asarray(xyxy, dtype=np.float32).reshape(-1, 4) / scale
    boxes[:, [0, 2]] = np.clip(boxes[:, [0, 2]], 0, width)
    boxes[:, [1, 3]] = np.clip(boxes[:, [1, 3]], 0, height)
    return boxes
