"""A ceiling fisheye's circle unwrapped into upright half panoramas before the detector looks.

A fisheye on the ceiling, looking down, sees the whole room in one circle: everyone stands on a line through its
centre, feet towards the middle and head towards the rim, so a person at the left of the circle lies on their side
and one at the top stands on their head. The detector learnt people standing up and loses half its guns on a
picture turned a quarter (model card, "Trained on turned pictures"). Video management systems show such a camera
as panoramas; gunwatch looks at them too:

- the circle is cut into two halves of 180 degrees, each reaching `OVERLAP` into the other so that nobody at a
  seam is cut in two, and each half is unwrapped round the centre: along the panorama the angle, down it the
  radius, from the rim (the far room and people's heads) at the top to the `inner` circle (nearer the feet of
  whoever stands below the camera) at the bottom; the two halves are stacked, the first on top;
- down the panorama the circle's own pixels are kept one for one (a lens's radius is about proportional to the
  angle off its axis), and along it they are kept at `NATIVE_AT` of the radius, where most people stand: nearer
  the rim the panorama is a little narrower than the circle, nearer the middle wider;
- the panorama is the camera's picture from then on: zones, masks, snapshots and clips are in it.

The unwrap is a mesh of quads (Pillow's MESH transform, in C): along a column of the panorama the radius is
linear, so each quad is exact down it; along it, a quad spans `MESH_STEP` panorama pixels, where the arc differs
from its chord by under half a pixel.

A fisheye on a wall, looking across the room, is left as it is: unwrapped into a cylindrical panorama it measured
no better (README, "Ceiling fisheyes").
"""

from __future__ import annotations

import itertools
import math

import numpy as np
from PIL import Image

from gunwatch.config.camera import Fisheye

OVERLAP = math.radians(20)  # each half panorama reaches this far past its 180 degrees on both sides
SPAN = math.pi + 2 * OVERLAP  # the angle one half panorama covers
NATIVE_AT = 0.6  # the fraction of the radius at which the panorama keeps the circle's pixels one for one
MESH_STEP = 16  # panorama pixels along one quad of the mesh
LIT = 24  # brighter than this in any channel: inside the circle (the lens leaves black round it)
INSIDE_LIT, OUTSIDE_DARK = 0.85, 0.97  # a disc is a found circle when this much of it is lit and of the rest dark
CIRCLE_SLACK = 0.05  # a circle this far (of the radius) from the camera's `fisheye` is worth telling


def circle(width: int, height: int, fisheye: Fisheye) -> tuple[float, float, float]:
    """The circle's centre x, y and radius in pixels of a picture of `width` x `height`."""
    return fisheye.center[0] * width, fisheye.center[1] * height, fisheye.radius * min(width, height)


def panorama_size(width: int, height: int, fisheye: Fisheye) -> tuple[int, int]:
    """(width, height) of the two stacked half panoramas unwrapped from a `width` x `height` picture (even sides)."""
    _, _, radius = circle(width, height, fisheye)
    half_height = max(1, round(radius * (1 - fisheye.inner)))
    return max(2, 2 * round(SPAN * NATIVE_AT * radius / 2)), 2 * half_height


def unwrapped(image: np.ndarray, fisheye: Fisheye, size: tuple[int, int] | None = None) -> np.ndarray:
    """An H x W x 3 fisheye picture as its two half panoramas stacked, `size` (default `panorama_size`); what lies
    outside the picture comes out black."""
    height, width = image.shape[:2]
    out_width, out_height = size or panorama_size(width, height, fisheye)
    mesh = _mesh(circle(width, height, fisheye), fisheye.inner, out_width, out_height)
    source = Image.fromarray(image)
    return np.asarray(source.transform((out_width, out_height), Image.Transform.MESH, mesh, Image.Resampling.BILINEAR))


def panorama_point(x: float, y: float, width: int, height: int, fisheye: Fisheye, half: int) -> tuple[float, float]:
    """Where the picture's point (x, y) lies in the given half (0: the upper panorama, 1: the lower) of the
    panorama of `panorama_size`; outside that half's range of angles, its u lies outside 0..width. Coordinates are
    continuous, as Pillow counts them: a pixel's centre lies at its index + 0.5."""
    cx, cy, radius = circle(width, height, fisheye)
    out_width, out_height = panorama_size(width, height, fisheye)
    half_height = out_height // 2
    angle = (math.atan2(y - cy, x - cx) - _start(half)) % (2 * math.pi)
    r = math.hypot(x - cx, y - cy)
    v = (radius - r) / (radius * (1 - fisheye.inner)) * half_height
    return angle / SPAN * out_width, half * half_height + v


def found_circle(image: np.ndarray) -> tuple[float, float, float] | None:
    """The fisheye circle a picture shows, as centre x, y and radius in pixels: the lit disc inside the black the
    lens leaves round it. Its widest lit rows give its diameter and centre (also when the frame cuts the circle's
    top and bottom); None when the lit part is not such a disc (a dark scene, a picture without black round it), so that
    no advice is given on a guess."""
    lit = image.max(axis=2) > LIT
    height, width = lit.shape
    rows = np.flatnonzero(lit.any(axis=1))
    if rows.size == 0:
        return None
    first = lit[rows].argmax(axis=1)
    last = width - 1 - lit[rows, ::-1].argmax(axis=1)
    widths = last - first + 1
    # Near its middle a circle's rows are all about as wide: their middle row is its centre's.
    widest = widths >= widths.max() - 2
    radius = widths.max() / 2
    cx, cy = float(np.mean(first[widest] + last[widest] + 1) / 2), float(np.mean(rows[widest])) + 0.5
    ys, xs = np.mgrid[:height, :width] + 0.5
    disc = np.hypot(xs - cx, ys - cy) <= radius
    # A stray lit patch in the black (the camera's clock drawn in a corner) widens a row: then the disc fails this.
    if radius < 8 or lit[disc].mean() < INSIDE_LIT or lit[~disc].mean() > 1 - OUTSIDE_DARK:
        return None
    return float(cx), float(cy), float(radius)


def circle_advice(image: np.ndarray, fisheye: Fisheye) -> str:
    """"" when the circle the picture shows is where the camera's `fisheye` says; otherwise what to set."""
    height, width = image.shape[:2]
    found = found_circle(image)
    if found is None:
        return ""
    cx, cy, radius = circle(width, height, fisheye)
    if max(abs(found[0] - cx), abs(found[1] - cy), abs(found[2] - radius)) <= CIRCLE_SLACK * radius:
        return ""
    side = min(width, height)
    return (f"the picture's circle is at center [{found[0] / width:.2f}, {found[1] / height:.2f}], radius "
            f"{found[2] / side:.2f}; the camera's fisheye says [{fisheye.center[0]:.2f}, {fisheye.center[1]:.2f}], "
            f"{fisheye.radius:.2f}")


def _start(half: int) -> float:
    return half * math.pi - OVERLAP


def _mesh(geometry: tuple[float, float, float], inner: float, out_width: int,
          out_height: int) -> list[tuple[tuple[int, int, int, int], tuple[float, ...]]]:
    cx, cy, radius = geometry
    rim, middle = radius, radius * inner
    half_height = out_height // 2
    edges = [*range(0, out_width, MESH_STEP), out_width]

    def at(angle: float, r: float) -> tuple[float, float]:
        return cx + r * math.cos(angle), cy + r * math.sin(angle)

    mesh = []
    for half in (0, 1):
        top = half * half_height
        for left, right in itertools.pairwise(edges):
            a, b = (_start(half) + u / out_width * SPAN for u in (left, right))
            # Pillow's quad: the source points of the box's upper-left, lower-left, lower-right and upper-right.
            quad = (*at(a, rim), *at(a, middle), *at(b, middle), *at(b, rim))
            mesh.append(((left, top, right, top + half_height), quad))
    return mesh
