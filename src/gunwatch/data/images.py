"""Image files: their size from the header, and an optional full decode to catch broken files."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image, UnidentifiedImageError

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff")


class ImageDecodeError(Exception):
    pass


def image_size(path: Path, verify: bool = False) -> tuple[int, int]:
    """(width, height) of an image; with verify, the pixels are decoded too (JPEGs at 1/8 scale, fast)."""
    try:
        with Image.open(path) as image:
            size = image.size
            if verify:
                if image.format == "JPEG":
                    image.draft("RGB", (max(1, size[0] // 8), max(1, size[1] // 8)))
                image.load()
    except (OSError, UnidentifiedImageError, SyntaxError, ValueError) as error:
        raise ImageDecodeError(f"image does not decode ({error})") from error
    return size


def load_rgb(path: Path) -> np.ndarray:
    """The image as an HxWx3 uint8 RGB array."""
    with Image.open(path) as image:
        return np.asarray(image.convert("RGB"))


def shrink_to(image: np.ndarray, longest_side: int) -> tuple[np.ndarray, float]:
    """Downscale so the longest side is at most `longest_side` (never upscale); returns image and scale."""
    height, width = image.shape[:2]
    scale = min(1.0, longest_side / max(height, width))
    if scale == 1.0:
        return image, 1.0
    size = (max(1, round(width * scale)), max(1, round(height * scale)))
    return np.asarray(Image.fromarray(image).resize(size, Image.BILINEAR)), scale


def list_images(folder: Path) -> dict[str, Path]:
    """Image files in a folder keyed by stem (sorted for a stable order)."""
    if not folder.is_dir():
        return {}
    return {p.stem: p for p in sorted(folder.iterdir()) if p.suffix.lower() in IMAGE_SUFFIXES}
