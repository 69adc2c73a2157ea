"""The YOLO layout: images/ + labels/, one `class xc yc w h` line (normalised centre and size) per box.

Splits may be nested: images/train/a.jpg pairs with labels/train/a.txt. A missing or empty label file means an
image without objects. Class names come from data.yaml (or dataset.yaml) at the root when there is one; without
names every class is taken as a gun.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from pathlib import Path

import yaml

from gunwatch.data.images import IMAGE_SUFFIXES
from gunwatch.data.layouts.base import ReadOptions, class_label, geometry_or_problem, text_lines_or_problem
from gunwatch.data.records import ImageRecord, Problem
from gunwatch.data.validation import BadAnnotation, checked_box, parse_floats

NAME = "yolo"
IMAGES_DIR = "images"
LABELS_DIR = "labels"
NAMES_FILES = ("data.yaml", "dataset.yaml")

ClassNames = dict[int, str]


def matches(root: Path) -> bool:
    return (root / IMAGES_DIR).is_dir() and (root / LABELS_DIR).is_dir()


def read(root: Path, options: ReadOptions) -> Iterator[ImageRecord | Problem]:
    if not (root / IMAGES_DIR).is_dir():
        yield Problem(root, f"no {IMAGES_DIR}/ folder here")  # only when the layout was forced
        return
    names = _read_names(root)
    if isinstance(names, Problem):
        yield names
        return  # without the class names no label can be mapped, so nothing is read
    images = _files_by_relative_stem(root / IMAGES_DIR, IMAGE_SUFFIXES)
    labels = _files_by_relative_stem(root / LABELS_DIR, (".txt",))
    for key in sorted(labels.keys() - images.keys()):
        yield Problem(labels[key], "label file without image")
    for key in sorted(images):
        yield _read_one(images[key], labels.get(key), names, options, images[key].relative_to(root / IMAGES_DIR))


def _files_by_relative_stem(folder: Path, suffixes: Sequence[str]) -> dict[Path, Path]:
    """Files under a folder (at any depth) keyed by their path relative to it, without the suffix."""
    if not folder.is_dir():
        return {}
    return {
        path.relative_to(folder).with_suffix(""): path
        for path in sorted(folder.rglob("*"))
        if path.suffix.lower() in suffixes and path.is_file()
    }


def _read_one(
    image_path: Path, label_path: Path | None, names: ClassNames | None, options: ReadOptions, key: Path
) -> ImageRecord | Problem:
    # Normalised boxes are on the picture as shown, as the tools that write them (and Ultralytics) show it.
    geometry = geometry_or_problem(image_path, options)
    if isinstance(geometry, Problem):
        return geometry
    width, height = geometry.size
    if label_path is None:
        return ImageRecord(image_path, width, height, key=key.as_posix(), orientation=geometry.orientation)
    lines = text_lines_or_problem(label_path, "label file")
    if isinstance(lines, Problem):
        return lines
    boxes: list[list[float]] = []
    labels: list[str] = []
    for line_no, raw in enumerate(lines, start=1):
        if not raw.strip():
            continue
        try:
            box, label = _parse_line(raw.split(), names, width, height, options)
        except BadAnnotation as error:
            return Problem(label_path, str(error), line_no)
        boxes.append(box)
        labels.append(label)
    return ImageRecord(image_path, width, height, boxes, tuple(labels), key=key.as_posix(),
                       orientation=geometry.orientation)


def _parse_line(
    fields: list[str], names: ClassNames | None, width: int, height: int, options: ReadOptions
) -> tuple[list[float], str]:
    line = " ".join(fields)
    if len(fields) != 5:
        raise BadAnnotation(f"malformed line {line!r}: expected 'class xc yc w h', got {len(fields)} fields")
    values = parse_floats(fields[1:])
    if values is None:
        raise BadAnnotation(f"malformed line {line!r}: xc yc w h must be numbers")
    class_id = _class_id(fields[0], names)
    xc, yc, w, h = values
    # Checked in pixels so that the edge tolerance is the same as for every other layout.
    x1, y1 = (xc - w / 2) * width, (yc - h / 2) * height
    x2, y2 = (xc + w / 2) * width, (yc + h / 2) * height
    box = checked_box(x1, y1, x2, y2, width, height)
    name = names.get(class_id) if names is not None else None
    return box, class_label(str(class_id), name, options)


def _class_id(text: str, names: ClassNames | None) -> int:
    try:
        class_id = int(text)
    except ValueError:
        raise BadAnnotation(f"class id {text!r} is not an integer") from None
    if names is not None and class_id not in names:
        raise BadAnnotation(f"class id {class_id} is not in the class names (known: {sorted(names)})")
    if class_id < 0:
        raise BadAnnotation(f"class id {class_id} is negative")
    return class_id


def _read_names(root: Path) -> ClassNames | Problem | None:
    """Class names by id from the data set's yaml; None when there is no yaml or it names no classes."""
    path = next((root / name for name in NAMES_FILES if (root / name).is_file()), None)
    if path is None:
        return None
    try:
        data = yaml.safe_load(path.read_text())
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        reason = getattr(error, "problem", None) or str(error)
        return Problem(path, f"malformed yaml: {reason}", mark.line + 1 if mark is not None else None)
    if not isinstance(data, dict):
        return Problem(path, "malformed yaml: expected a mapping with 'names'")
    try:
        return _names_by_id(data.get("names"))
    except BadAnnotation as error:
        return Problem(path, f"malformed yaml: {error}")


def _names_by_id(names: object) -> ClassNames | None:
    if names is None:
        return None
    if isinstance(names, list):
        return {class_id: str(name) for class_id, name in enumerate(names)}
    if isinstance(names, dict):
        try:
            return {int(class_id): str(name) for class_id, name in names.items()}
        except (TypeError, ValueError):
            raise BadAnnotation(f"'names' keys must be class ids, got {list(names)}") from None
    raise BadAnnotation(f"'names' must be a list or a mapping of id to name, got {type(names).__name__}")
