"""Polygons on a camera's picture: zones (where a gun counts) and masks (where nothing counts).

Points are normalised: x is a fraction of the frame's width and y of its height, (0, 0) the top-left
corner and (1, 1) the bottom-right one. A zone drawn once then holds at any analysis resolution and
survives a camera's resolution change.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import AfterValidator, BeforeValidator, Field

from gunwatch.config.base import StrictModel


def _check_coordinate(value: float) -> float:
    if not 0 <= value <= 1:
        raise ValueError(
            f"must be between 0 and 1 (a fraction of the frame's width or height, not pixels), got {value:g}"
        )
    return value


def _check_pair(value: object) -> object:
    # Said here rather than as pydantic's "Field required" on the point's second number.
    if isinstance(value, list | tuple) and len(value) != 2:
        raise ValueError(f"a point is [x, y], got {len(value)} number(s)")
    return value


def _check_points(value: object) -> object:
    # One message for a polygon written flat ([0, 0, 1, 0, ...]) or a mask missing its outer brackets,
    # instead of one per number.
    if isinstance(value, list) and not all(isinstance(point, list | tuple) for point in value):
        raise ValueError("a polygon is a list of [x, y] points, such as [[0, 0], [1, 0], [0, 1]]")
    return value


def _check_polygon(points: list[tuple[float, float]]) -> list[tuple[float, float]]:
    if len(points) < 3:
        raise ValueError(f"a polygon needs at least 3 points, got {len(points)}")
    if polygon_area(points) == 0:
        raise ValueError("the points lie on one line: the polygon encloses no area")
    return points


def polygon_area(points: list[tuple[float, float]]) -> float:
    """Area by the shoelace formula, in the points' own units (a fraction of the frame for a config polygon)."""
    twice_area = sum(x1 * y2 - x2 * y1 for (x1, y1), (x2, y2) in zip(points, points[1:] + points[:1], strict=True))
    return abs(twice_area) / 2


Coordinate = Annotated[float, AfterValidator(_check_coordinate)]
Point = Annotated[tuple[Coordinate, Coordinate], BeforeValidator(_check_pair)]
Polygon = Annotated[list[Point], BeforeValidator(_check_points), AfterValidator(_check_polygon)]


class Zone(StrictModel):
    """An area where a gun counts. With no enabled zone on a camera, the whole frame counts."""

    polygon: Polygon = Field(description="[x, y] points, each a fraction 0..1 of the frame's width and height")
    enabled: bool = Field(True, description="a disabled zone is kept in the file but ignored")
