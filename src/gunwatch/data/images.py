"""Image files: their size from the header, and an optional full decode to catch broken files.

Every image is read as it is shown: a photo whose EXIF orientation tag turns it (a phone held upright) comes
out turned, with its shown width and height (`data/orientation.py`).

Every decode here checks the size the file's header declares before decoding a pixel: an 81 KB PNG can
declare 640 x 130000 and take 238 MiB once decoded, a few more a camera's memory. Pillow opens files
lazily (the header only), so the check costs nothing. A larger image is an ImageTooLarge naming the file.
"""

from __future__ import annotations

import functools
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, UnidentifiedImageError

from gunwatch.data.orientation import displayed_size, exif_orientation, upright

# GIF: photos saved from the web (an animated one is read as its first picture).
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff", ".avif", ".heic", ".heif", ".gif")
# An iPhone's photos: read through the optional pillow-heif package (`pip install "gunwatch[heic]"`).
HEIF_SUFFIXES = (".heic", ".heif")
# RGB -> luma (ITU-R BT.601), how a grey camera frame is made from colour wherever training needs one.
LUMA_WEIGHTS = np.array([0.299, 0.587, 0.114], np.float32)

# The largest image decoded: a 61-Mpx photograph (9504 x 6336) fits, and decodes to at most 192 MB of RGB.
MAX_IMAGE_PIXELS = 64_000_000
MAX_IMAGE_SIDE = 16_384  # px, either side: no camera or photograph is longer; a strip of pixels is an attack


class ImageDecodeError(Exception):
    pass


class ImageTooLarge(ImageDecodeError):
    """An image whose header declares more pixels than gunwatch decodes; it was not decoded."""


def _open(path: Path) -> Image.Image:
    """Image.open, with HEIC / HEIF made readable first (or refused, saying how to make it readable)."""
    if path.suffix.lower() in HEIF_SUFFIXES:
        _register_heif()
    return Image.open(path)


@functools.cache
def _register_heif() -> None:
    try:
        import pillow_heif
    except ImportError:
        raise ImageDecodeError('HEIC / HEIF photos need the pillow-heif package: pip install "gunwatch[heic]" '
                               "(or convert the photos to JPEG)") from None
    # libheif turns the picture by its own orientation boxes and resets the EXIF tag, so `upright` finds 1.
    pillow_heif.register_heif_opener()


def check_image_size(path: Path, size: tuple[int, int], max_pixels: int = MAX_IMAGE_PIXELS,
                     max_side: int = MAX_IMAGE_SIDE) -> None:
    """ImageTooLarge when `size` (width, height) is over either cap."""
    width, height = size
    if width > max_side or height > max_side or width * height > max_pixels:
        raise ImageTooLarge(f"{path}: {width}x{height} px is larger than gunwatch decodes (at most {max_side} px "
                            f"a side and {max_pixels / 1e6:g} Mpx), not decoded")


@dataclass(frozen=True)
class ImageGeometry:
    stored_size: tuple[int, int]  # (width, height) of the pixels in the file
    orientation: int = 1  # EXIF orientation, 1 to 8 (1: the stored pixels are upright)

    @property
    def size(self) -> tuple[int, int]:
        """(width, height) as shown: what `load_rgb` returns and boxes refer to."""
        return displayed_size(self.stored_size, self.orientation)


def image_geometry(path: Path, verify: bool = False) -> ImageGeometry:
    """An image's stored size and orientation from its header; with verify, the pixels are decoded too (JPEGs
    at 1/8 scale, fast), and an image over the caps is an ImageTooLarge."""
    try:
        with _open(path) as image:
            size = image.size
            orientation = exif_orientation(image)
            if verify:
                check_image_size(path, size)
                if image.format == "JPEG":
                    image.draft("RGB", (max(1, size[0] // 8), max(1, size[1] // 8)))
                image.load()
    except Image.DecompressionBombError as error:  # Pillow's own cap, past twice its warning size
        raise ImageTooLarge(f"{path}: {error}") from None
    except (OSError, UnidentifiedImageError, SyntaxError, ValueError) as error:
        raise ImageDecodeError(f"image does not decode ({error})") from error
    return ImageGeometry(size, orientation)


def image_size(path: Path, verify: bool = False) -> tuple[int, int]:
    """(width, height) of an image as shown (see `image_geometry`)."""
    return image_geometry(path, verify).size


def load_rgb(path: Path, max_pixels: int = MAX_IMAGE_PIXELS, max_side: int = MAX_IMAGE_SIDE) -> np.ndarray:
    """The image as shown (turned by its EXIF orientation), an HxWx3 uint8 RGB array. ImageTooLarge, before
    decoding, when the header declares more than `max_pixels` or a side over `max_side`; OSError when the file
    is not an image or is broken."""
    try:
        with _open(path) as image:  # the header only, so far
            check_image_size(path, image.size, max_pixels, max_side)
            return np.asarray(upright(rgb_of(image), exif_orientation(image)))
    except Image.DecompressionBombError as error:  # raised by open itself, past twice Pillow's warning size
        raise ImageTooLarge(f"{path}: {error}") from None


def rgb_of(image: Image.Image) -> Image.Image:
    """The image in 8-bit RGB, as a viewer shows it.

    Pillow converts 16-bit and 32-bit grey (a thermal or industrial camera's PNG) by clipping at 255, which turns
    almost every pixel white: those are scaled from their full range instead. Transparent pixels are laid on
    white, as a browser shows them; dropping the alpha would leave what the file stores under them, usually
    black, and a black pistol cut out on a transparent background would vanish.
    """
    if image.mode in ("RGBA", "LA", "PA", "RGBa", "La") or "transparency" in image.info:
        rgba = image.convert("RGBA")
        return Image.alpha_composite(Image.new("RGBA", rgba.size, (255, 255, 255, 255)), rgba).convert("RGB")
    if image.mode.startswith("I;16"):
        grey = np.asarray(image, dtype=np.uint16) >> 8  # 0..65535 -> 0..255
    elif image.mode in ("I", "F"):
        values = np.asarray(image, dtype=np.float64)
        top = 65535.0 if values.max(initial=0) > 255 else 255.0  # Pillow opens 16-bit PNGs as "I" too
        grey = np.clip(values * (255.0 / top), 0, 255).round()
    else:
        return image.convert("RGB")
    return Image.fromarray(grey.astype(np.uint8)).convert("RGB")


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


def images_in(folder: Path) -> tuple[list[Path], list[Path]]:
    """A folder's image files and its other files, each sorted by name. Hidden files are neither: a Mac copying
    to a share leaves "._NAME.jpg" beside each image, which is not a picture."""
    return _images_and_others(sorted(folder.iterdir()))


def images_under(folder: Path) -> tuple[list[Path], list[Path]]:
    """`images_in` for a folder and every folder below it: a photo collection is often sorted into folders (by
    camera, day or scene), and a folder given to `detect` or `eval-photos` means all of it. Sorted by the path
    below `folder`; hidden folders are skipped as hidden files are, and links to folders are not followed (a
    link to a parent would never end). A subfolder that cannot be read is an OSError naming it, not a gap.
    """
    def unreadable(error: OSError) -> None:
        raise error

    entries: list[Path] = []
    for root, folders, names in os.walk(folder, onerror=unreadable):
        folders[:] = [name for name in folders if not name.startswith(".")]
        entries += [Path(root, name) for name in names]
    return _images_and_others(sorted(entries, key=lambda p: p.relative_to(folder).parts))


def _images_and_others(entries: list[Path]) -> tuple[list[Path], list[Path]]:
    """The files among `entries` (in their order, hidden ones left out) split into images and the rest."""
    files = [p for p in entries if not p.name.startswith(".") and p.is_file()]
    return ([p for p in files if p.suffix.lower() in IMAGE_SUFFIXES],
            [p for p in files if p.suffix.lower() not in IMAGE_SUFFIXES])


def list_images(folder: Path) -> dict[str, Path]:
    """Image files in a folder keyed by stem (sorted for a stable order)."""
    if not folder.is_dir():
        return {}
    return {p.stem: p for p in sorted(folder.iterdir()) if p.suffix.lower() in IMAGE_SUFFIXES}


FEATHER = 0.2  # share of a pasted patch's shorter side over which it fades in


def feather_mask(height: int, width: int, feather: float = FEATHER) -> np.ndarray:
    """Alpha (H, W, 1) in 0..1: 1 inside, ramping linearly to ~0 over `feather` of the shorter side."""
    ramp = max(1.0, feather * min(height, width))

    def edge(n: int) -> np.ndarray:
        distance = np.minimum(np.arange(n), np.arange(n)[::-1]) + 0.5
        return np.clip(distance / ramp, 0, 1)

    return np.minimum.outer(edge(height), edge(width))[..., None].astype(np.float32)


def blend(canvas: np.ndarray, patch: np.ndarray, x0: int, y0: int, feather: float = FEATHER) -> None:
    """Blend `patch` (fully inside the canvas) at (x0, y0) with edges feathered over `feather` of its shorter
    side, in place."""
    height, width = patch.shape[:2]
    alpha = feather_mask(height, width, feather)
    region = canvas[y0 : y0 + height, x0 : x0 + width].astype(np.float32)
    canvas[y0 : y0 + height, x0 : x0 + width] = (alpha * patch + (1 - alpha) * region).round().astype(np.uint8)
