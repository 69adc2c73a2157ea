"""Where on a camera's picture a gun counts: inside an enabled zone, and outside every mask.

A box is placed by its centre. A gun box drawn around a hand reaching across a zone's edge has its corner
in one area and its middle in another; the centre is where the gun is, it is one point for every test
(so a box is in exactly one zone or none), and a large box clipping the edge of a mask (a poster, a TV)
is not thrown away for a sliver of overlap.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from gunwatch.config import Camera, Zone

NormalisedPolygon = Sequence[tuple[float, float]]  # [x, y] points as fractions 0..1 of the frame


def scale_polygon(polygon: NormalisedPolygon, size: tuple[int, int]) -> np.ndarray:
    """(K, 2) pixel points of a normalised polygon on a frame of `size` (width, height)."""
    return np.asarray(polygon, dtype=np.float64).reshape(-1, 2) * np.asarray(size, dtype=np.float64)


def points_in_polygon(points: np.ndarray, polygon: np.ndarray) -> np.ndarray:
    """(N,) bool: whether each of the (N, 2) points lies inside the (K, 2) polygon (even-odd rule).

    A ray from each point to the right crosses the polygon's edges an odd number of times from inside. An
    edge counts when it straddles the point's row, half-open (y1 > y) != (y2 > y), so a vertex on the row is
    counted once and horizontal edges never.
    """
    points = np.asarray(points, dtype=np.float64).reshape(-1, 2)
    x, y = points[:, :1], points[:, 1:]  # (N, 1), against (K,) edges
    x1, y1 = polygon[:, 0], polygon[:, 1]
    x2, y2 = np.roll(x1, -1), np.roll(y1, -1)
    straddles = (y1 > y) != (y2 > y)
    with np.errstate(divide="ignore", invalid="ignore"):  # horizontal edges: masked out by `straddles`
        crossing_x = x1 + (y - y1) * (x2 - x1) / (y2 - y1)
    crossings = np.count_nonzero(straddles & (x < crossing_x), axis=1)
    return crossings % 2 == 1


def box_centres(xyxy: np.ndarray) -> np.ndarray:
    boxes = np.asarray(xyxy, dtype=np.float64).reshape(-1, 4)
    return (boxes[:, :2] + boxes[:, 2:]) / 2


class CameraZones:
    """One camera's enabled zones and masks, tested against boxes in the pixels of any frame size."""

    def __init__(self, zones: Mapping[str, Zone], masks: Sequence[NormalisedPolygon] = ()) -> None:
        self.zones = {name: zone.polygon for name, zone in zones.items() if zone.enabled}
        self.masks = list(masks)

    @classmethod
    def of_camera(cls, camera: Camera) -> CameraZones:
        return cls(camera.zones, camera.masks)

    @property
    def whole_frame(self) -> bool:
        """With no enabled zone, a gun anywhere (outside the masks) counts."""
        return not self.zones

    def masked(self, xyxy: np.ndarray, size: tuple[int, int]) -> np.ndarray:
        """(N,) bool: the box's centre lies inside a mask."""
        centres = box_centres(xyxy)
        hidden = np.zeros(len(centres), dtype=bool)
        for mask in self.masks:
            hidden |= points_in_polygon(centres, scale_polygon(mask, size))
        return hidden

    def zone_names(self, xyxy: np.ndarray, size: tuple[int, int]) -> list[str | None]:
        """The enabled zone holding each box's centre, None outside all of them.

        Where zones overlap, the first in the file's order wins, so a box always gets one name.
        """
        centres = box_centres(xyxy)
        names: list[str | None] = [None] * len(centres)
        for name, polygon in reversed(self.zones.items()):
            for i in np.flatnonzero(points_in_polygon(centres, scale_polygon(polygon, size))):
                names[i] = name
        return names

    def place(self, xyxy: np.ndarray, size: tuple[int, int]) -> tuple[np.ndarray, list[str | None]]:
        """(counts, zones) for the boxes of a frame of `size` (width, height).

        counts[i]: the box is outside every mask and inside an enabled zone (or the camera has none).
        zones[i]: the zone's name; None when the whole frame counts or the box does not count.
        """
        unmasked = ~self.masked(xyxy, size)
        if self.whole_frame:
            return unmasked, [None] * len(unmasked)
        names = self.zone_names(xyxy, size)
        counts = unmasked & np.array([name is not None for name in names], dtype=bool)
        return counts, [name if keep else None for name, keep in zip(names, counts.tolist(), strict=True)]
