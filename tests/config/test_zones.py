"""Polygons in normalised coordinates: at least 3 points, each [x, y] in 0..1, enclosing some area."""

from __future__ import annotations

import pytest
from pydantic import TypeAdapter, ValidationError

from gunwatch.config.zones import Polygon, Zone, polygon_area

POLYGON = TypeAdapter(Polygon)


def test_polygon_area() -> None:
    assert polygon_area([(0, 0), (1, 0), (1, 1), (0, 1)]) == 1
    assert polygon_area([(0, 0), (0, 1), (1, 0)]) == 0.5  # either winding
    assert polygon_area([(0, 0), (0.5, 0.5), (1, 1)]) == 0


def test_a_valid_polygon_becomes_tuples() -> None:
    assert POLYGON.validate_python([[0, 0], [1, 0], [0.5, 1]]) == [(0, 0), (1, 0), (0.5, 1)]


@pytest.mark.parametrize(
    ("points", "location", "message"),
    [
        ([[0, 0], [1, 1]], (), "a polygon needs at least 3 points, got 2"),
        ([[0, 0], [0.5, 0.5], [1, 1]], (), "the points lie on one line: the polygon encloses no area"),
        ([[0, 0], [640, 0], [0, 1]], (1, 0), "must be between 0 and 1 (a fraction of the frame's width or height"),
        ([[0, 0], [1, -0.1], [0, 1]], (1, 1), "must be between 0 and 1"),
        ([[0, 0], [1], [0, 1]], (1,), "a point is [x, y], got 1 number(s)"),
        ([[0, 0], [1, 0, 0], [0, 1]], (1,), "a point is [x, y], got 3 number(s)"),
        ([0, 0, 1, 0, 0, 1], (), "a polygon is a list of [x, y] points, such as [[0, 0], [1, 0], [0, 1]]"),
    ],
)
def test_bad_polygons(points: list[list[float]], location: tuple[int, ...], message: str) -> None:
    with pytest.raises(ValidationError) as caught:
        POLYGON.validate_python(points)
    [error] = caught.value.errors()
    assert error["loc"] == location
    assert error["msg"].removeprefix("Value error, ").startswith(message)


def test_a_zone_is_enabled_by_default() -> None:
    assert Zone.model_validate({"polygon": [[0, 0], [1, 0], [0, 1]]}).enabled
