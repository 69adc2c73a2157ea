"""EXIF orientation: a phone stores a portrait photo as landscape pixels plus a tag that says how to turn them.

Viewers, annotation tools (CVAT, Roboflow, Label Studio) and other detectors' loaders (Ultralytics, OpenCV's
imread) show the picture turned; gunwatch does the same, so a held-up phone photo reaches the detector
upright (people lying on their side are found far less often) and its boxes are in the pixels a person sees.
"""

from __future__ import annotations

from PIL import ExifTags, Image

ORIENTATION_TAG = ExifTags.Base.Orientation

# What turns the stored pixels upright, for each EXIF orientation (1, or none, means: already upright).
TRANSPOSE_FOR = {
    2: Image.Transpose.FLIP_LEFT_RIGHT,
    3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_270,  # a quarter turn clockwise: the phone was held with its top to the left
    7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_90,
}
SIDEWAYS = frozenset({5, 6, 7, 8})  # the orientations that swap width and height


def exif_orientation(image: Image.Image) -> int:
    """The image's EXIF orientation, 1 to 8; 1 when it has none or an unreadable one (never an error: a broken
    EXIF block must not lose the picture)."""
    try:
        value = image.getexif().get(ORIENTATION_TAG, 1)
    except Exception:  # Pillow raises a variety of errors on malformed EXIF; the pixels are still good
        return 1
    return value if isinstance(value, int) and value in TRANSPOSE_FOR else 1


def displayed_size(stored_size: tuple[int, int], orientation: int) -> tuple[int, int]:
    """(width, height) of the picture as shown, from the stored pixels' (width, height)."""
    width, height = stored_size
    return (height, width) if orientation in SIDEWAYS else (width, height)


def upright(image: Image.Image, orientation: int) -> Image.Image:
    """The image as shown: its pixels turned by `orientation` (the image itself when that is 1)."""
    method = TRANSPOSE_FOR.get(orientation)
    return image if method is None else image.transpose(method)


def stored_box_to_displayed(box: list[float], stored_size: tuple[int, int], orientation: int) -> list[float]:
    """An xyxy box drawn on the stored pixels, in the shown picture's pixels (for annotations made by a tool
    that ignored the tag: their stated image size is the stored one)."""
    width, height = stored_size
    x1, y1, x2, y2 = box

    def point(x: float, y: float) -> tuple[float, float]:
        return {
            1: (x, y),
            2: (width - x, y),
            3: (width - x, height - y),
            4: (x, height - y),
            5: (y, x),
            6: (height - y, x),
            7: (height - y, width - x),
            8: (y, width - x),
        }[orientation if orientation in TRANSPOSE_FOR else 1]

    (ax, ay), (bx, by) = point(x1, y1), point(x2, y2)
    return [min(ax, bx), min(ay, by), max(ax, bx), max(ay, by)]
