"""The course notebook's layout: pistol_images/N.jpg + pistol_annotations/N.txt.

Each annotation line is `1 xc yc w h` (normalised centre and size) or the single line `0 0 0 0 0`
for an image without a gun. An optional manifest.jsonl gives each image's origin.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

from gunwatch import GUN_LABEL
from gunwatch.data.images import list_images
from gunwatch.data.layouts.base import ReadOptions, geometry_or_problem, text_lines_or_problem
from gunwatch.data.records import ImageRecord, Problem
from gunwatch.data.validation import BadAnnotation, checked_box, parse_floats

NAME = "notebook"
IMAGES_DIR = "pistol_images"
LABELS_DIR = "pistol_annotations"


def matches(root: Path) -> bool:
    return (root / IMAGES_DIR).is_dir() and (root / LABELS_DIR).is_dir()


def read(root: Path, options: ReadOptions) -> Iterator[ImageRecord | Problem]:
    images = list_images(root / IMAGES_DIR)
    labels = {p.stem: p for p in sorted((root / LABELS_DIR).glob("*.txt"))}
    origins, manifest_problems = _read_manifest(root / "manifest.jsonl")
    yield from manifest_problems
    for stem in sorted(labels.keys() - images.keys(), key=_numeric_first):
        yield Problem(labels[stem], "label without image")
    for stem in sorted(images.keys() - labels.keys(), key=_numeric_first):
        yield Problem(images[stem], "image without annotation file")
    for stem in sorted(images.keys() & labels.keys(), key=_numeric_first):
        yield _read_one(images[stem], labels[stem], origins.get(stem), options)


def _read_one(image_path: Path, label_path: Path, origin: str | None, options: ReadOptions) -> ImageRecord | Problem:
    # Normalised boxes are on the picture as shown, as the tools that write them (and Ultralytics) show it.
    geometry = geometry_or_problem(image_path, options)
    if isinstance(geometry, Problem):
        return geometry
    width, height = geometry.size
    lines = text_lines_or_problem(label_path, "label file")
    if isinstance(lines, Problem):
        return lines
    boxes: list[list[float]] = []
    saw_no_gun_line = False
    for line_no, raw in enumerate(lines, start=1):
        if not raw.strip():
            continue
        fields = raw.split()
        values = parse_floats(fields)
        if values is None or len(values) != 5:
            return Problem(label_path, f"malformed line {raw.strip()!r}: expected 'class xc yc w h'", line_no)
        class_id, xc, yc, w, h = values
        if class_id == 0:
            if (xc, yc, w, h) != (0, 0, 0, 0):
                return Problem(label_path, f"malformed line {raw.strip()!r}: class 0 must be '0 0 0 0 0'", line_no)
            saw_no_gun_line = True
            continue
        if class_id != 1:
            return Problem(label_path, f"unknown class {fields[0]!r} (expected 1 for a gun or 0 0 0 0 0)", line_no)
        x1, y1 = (xc - w / 2) * width, (yc - h / 2) * height
        x2, y2 = (xc + w / 2) * width, (yc + h / 2) * height
        try:
            boxes.append(checked_box(x1, y1, x2, y2, width, height))
        except BadAnnotation as error:
            return Problem(label_path, str(error), line_no)
    if saw_no_gun_line and boxes:
        return Problem(label_path, "file mixes '0 0 0 0 0' with gun boxes")
    return ImageRecord(image_path, width, height, boxes, (GUN_LABEL,) * len(boxes), origin,
                       orientation=geometry.orientation)


def _read_manifest(path: Path) -> tuple[dict[str, str], list[Problem]]:
    """Origins by image stem; the manifest is optional."""
    origins: dict[str, str] = {}
    problems: list[Problem] = []
    if not path.is_file():
        return origins, problems
    lines = text_lines_or_problem(path, "manifest")
    if isinstance(lines, Problem):
        return origins, [lines]
    for line_no, raw in enumerate(lines, start=1):
        if not raw.strip():
            continue
        try:
            entry = json.loads(raw)
            origins[str(entry["id"])] = str(entry["origin"])
        except (json.JSONDecodeError, KeyError, TypeError) as error:
            problems.append(Problem(path, f"manifest line is not an object with id and origin ({error})", line_no))
    return origins, problems


def _numeric_first(stem: str) -> tuple[int, str]:
    return (int(stem), stem) if stem.isdigit() else (1 << 62, stem)
