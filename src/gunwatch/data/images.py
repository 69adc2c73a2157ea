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


def resize_to(image: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """An RGB uint8 image resized (bilinear) to `size` (width, height); the same array when it already is."""
    if (image.shape[1], image.shape[0]) == tuple(size):
        return image
    return np.asarray(Image.fromarray(np.ascontiguousarray(image)).resize(tuple(size), Image.BILINEAR))


def resize_by(image: np.ndarray, scale: float) -> np.ndarray:
    """An image scaled by `scale` on both sides (at least 1 px each)."""
    height, width = image.shape[:2]
    return resize_to(image, (max(1, round(width * scale)), max(1, round(height * scale))))


def shrink_to(image: np.ndarray, longest_side: int) -> tuple[np.ndarray, float]:
    """Downscale so the longest side is at most `longest_side` (never upscale); returns image and scale."""
    scale = min(1.0, longest_side / max(image.shape[:2]))
    return (image, 1.0) if scale == 1.0 else (resize_by(image, scale), scale)


def list_images(folder: Path) -> dict[str, Path]:
    """Image files in a folder keyed by stem (sorted for a stable order)."""
    if not folder.is_dir():
        return {}
    return {p.stem: p for p in sorted(folder.iterdir()) if p.suffix.lower() in IMAGE_SUFFIXES}
