"""The Pascal VOC layout: one XML file per image, Annotations/*.xml with the images in JPEGImages/.

Also read: annotations/ with images/ (a common export), and a flat folder of .xml files beside their images.
Box corners may be floats. The image file decides the size; the XML's <size> is only checked against it.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Iterator
from pathlib import Path

from gunwatch.data.images import list_images
from gunwatch.data.layouts.base import ReadOptions, class_label, sized_image
from gunwatch.data.records import ImageRecord, Problem
from gunwatch.data.validation import BadAnnotation, parse_floats

NAME = "voc"
ANNOTATION_DIRS = ("Annotations", "annotations")
IMAGE_DIRS = ("JPEGImages", "images")
CORNERS = ("xmin", "ymin", "xmax", "ymax")


def matches(root: Path) -> bool:
    if any(_xml_files(root / name) for name in ANNOTATION_DIRS):
        return True
    return bool(_xml_files(root)) and bool(list_images(root))


def read(root: Path, options: ReadOptions) -> Iterator[ImageRecord | Problem]:
    annotations = next((root / name for name in ANNOTATION_DIRS if _xml_files(root / name)), root)
    # dict.fromkeys: the flat form has the annotations in the root, so it is not searched twice.
    image_folders = list(dict.fromkeys([*(root / name for name in IMAGE_DIRS), root, annotations]))
    xml_files = _xml_files(annotations)
    if not xml_files:  # only when the layout was forced
        yield Problem(root, f"no .xml annotations here (looked in {', '.join(ANNOTATION_DIRS)}/ and the folder)")
    for xml_path in xml_files:
        yield _read_one(xml_path, image_folders, options)


def _xml_files(folder: Path) -> list[Path]:
    if not folder.is_dir():
        return []
    return [path for path in sorted(folder.iterdir()) if path.suffix.lower() == ".xml" and path.is_file()]


def _read_one(xml_path: Path, image_folders: list[Path], options: ReadOptions) -> ImageRecord | Problem:
    try:
        annotation = ET.parse(xml_path).getroot()
    except ET.ParseError as error:
        return Problem(xml_path, f"XML does not parse ({error})", error.position[0])
    if annotation.tag != "annotation":
        return Problem(xml_path, f"not a VOC annotation: the root element is <{annotation.tag}>")
    try:
        file_name = _text(annotation, "filename")
        declared_size = (_number(annotation, "size/width"), _number(annotation, "size/height"))
        objects = [_read_object(element, index) for index, element in enumerate(annotation.findall("object"), start=1)]
    except BadAnnotation as error:
        return Problem(xml_path, str(error))
    found = sized_image(xml_path, file_name, image_folders, declared_size, options)
    if isinstance(found, Problem):
        return found
    boxes: list[list[float]] = []
    for index, (name, corners) in enumerate(objects, start=1):
        try:
            boxes.append(found.box(*corners))
        except BadAnnotation as error:
            return Problem(xml_path, f"object {index} ({name}): {error}")
    labels = tuple(class_label(name, name, options) for name, _ in objects)
    return ImageRecord(found.path, *found.size, boxes, labels, orientation=found.geometry.orientation)


def _read_object(element: ET.Element, index: int) -> tuple[str, list[float]]:
    """An <object>'s class name and its (xmin, ymin, xmax, ymax)."""
    try:
        name = _text(element, "name")
        corners = [_number(element, f"bndbox/{corner}") for corner in CORNERS]
    except BadAnnotation as error:
        raise BadAnnotation(f"object {index}: {error}") from None
    return name, corners


def _text(element: ET.Element, path: str) -> str:
    found = element.find(path)
    text = (found.text or "").strip() if found is not None else ""
    if not text:
        raise BadAnnotation(f"missing <{path}>")
    return text


def _number(element: ET.Element, path: str) -> float:
    text = _text(element, path)
    values = parse_floats([text])
    if values is None:
        raise BadAnnotation(f"<{path}> is not a number: {text!r}")
    return values[0]
