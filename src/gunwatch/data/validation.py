"""Checks every layout applies to a box before it becomes part of a record."""

from __future__ import annotations

from collections.abc import Sequence

# Annotation tools round; a box may poke out of the image by a pixel without being wrong.
EDGE_TOLERANCE_PX = 1.0


def box_problem(x1: float, y1: float, x2: float, y2: float, width: int, height: int) -> str | None:
    """A message saying what is wrong with an absolute xyxy box, or None when it is fine."""
    if not all(map(_finite, (x1, y1, x2, y2))):
        return "box has a non-finite coordinate"
    if x2 - x1 <= 0 or y2 - y1 <= 0:
        return f"zero-size box ({x1:g}, {y1:g}, {x2:g}, {y2:g})"
    tol = EDGE_TOLERANCE_PX
    if x1 < -tol or y1 < -tol or x2 > width + tol or y2 > height + tol:
        return (
            f"coordinates out of range: box ({x1:g}, {y1:g}, {x2:g}, {y2:g}) "
            f"outside the {width}x{height} image"
        )
    return None


def clip_box(x1: float, y1: float, x2: float, y2: float, width: int, height: int) -> list[float]:
    return [max(0.0, x1), max(0.0, y1), min(float(width), x2), min(float(height), y2)]


class BadAnnotation(ValueError):
    """One annotation is wrong; a reader turns it into a Problem that skips the image it belongs to."""


def checked_box(x1: float, y1: float, x2: float, y2: float, width: int, height: int) -> list[float]:
    """The box clipped to the image; raises BadAnnotation saying what is wrong with it."""
    if message := box_problem(x1, y1, x2, y2, width, height):
        raise BadAnnotation(message)
    return clip_box(x1, y1, x2, y2, width, height)


def size_mismatch(declared_width: float, declared_height: float, width: int, height: int) -> str | None:
    """A message when an annotation's stated image size is not the image's real one (boxes would be off)."""
    if (declared_width, declared_height) == (width, height):
        return None
    return f"annotation says the image is {declared_width:g}x{declared_height:g} but it is {width}x{height}"


def parse_floats(fields: Sequence[str]) -> list[float] | None:
    """The fields as numbers, or None when any is not one."""
    try:
        return [float(f) for f in fields]
    except ValueError:
        return None


def _finite(value: float) -> bool:
    return value == value and abs(value) != float("inf")
