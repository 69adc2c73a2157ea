"""The COCO layout: a JSON file of images, annotations (`bbox` [x, y, w, h] in pixels) and categories.

The root may be the JSON file itself, a folder with annotations/*.json (COCO's own layout; when there are
instances_*.json files only those are read, the others hold captions or keypoints), or a folder with a single
*.json beside its images (Roboflow's _annotations.coco.json). An image's file_name is looked up in the JSON's
folder and images/ beside it, and for annotations/*.json in the data set folder, its images/, and the split folder
COCO names after the file (instances_val2017.json -> val2017/). Images without annotations are gun-free records.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from gunwatch.data.layouts.base import ReadOptions, SizedImage, class_label, sized_image
from gunwatch.data.records import ImageRecord, Problem
from gunwatch.data.validation import BadAnnotation

NAME = "coco"
ANNOTATIONS_DIR = "annotations"
IMAGES_DIR = "images"
INSTANCES_PREFIX = "instances_"

Id = int | str


def matches(root: Path) -> bool:
    return bool(_json_files(root))


def read(root: Path, options: ReadOptions) -> Iterator[ImageRecord | Problem]:
    files = _json_files(root)
    if not files:
        yield Problem(root, "no COCO JSON here: give the file, or a folder with annotations/*.json or one *.json")
    for json_path in files:
        yield from _read_file(json_path, options)


def _json_files(root: Path) -> list[Path]:
    if root.is_file():
        return [root] if root.suffix.lower() == ".json" else []
    in_annotations = sorted((root / ANNOTATIONS_DIR).glob("*.json"))
    instances = [path for path in in_annotations if path.name.startswith(INSTANCES_PREFIX)]
    if in_annotations:
        return instances or in_annotations
    beside = sorted(root.glob("*.json"))
    return beside if len(beside) == 1 else []  # several loose JSON files are not clearly a COCO set


def _read_file(json_path: Path, options: ReadOptions) -> Iterator[ImageRecord | Problem]:
    try:
        data = json.loads(json_path.read_bytes())
    except json.JSONDecodeError as error:
        yield Problem(json_path, f"JSON does not parse ({error.msg})", error.lineno)
        return
    except UnicodeDecodeError as error:
        yield Problem(json_path, f"JSON is not UTF-8 text ({error.reason})")
        return
    try:
        images = _images_by_id(_section(data, "images"))
        categories = _category_names(_section(data, "categories"))
        annotations = _section(data, "annotations", required=False)  # test sets come without
    except BadAnnotation as error:
        yield Problem(json_path, f"not a COCO detection file: {error}")
        return
    # Each annotation keeps its place in the file, to point at the ones without an id.
    by_image: dict[Id, list[tuple[int, dict[str, Any]]]] = {image_id: [] for image_id in images}
    for index, annotation in enumerate(annotations):
        image_id = annotation.get("image_id") if isinstance(annotation, dict) else None
        if not _is_id(image_id) or image_id not in by_image:
            yield Problem(json_path, f"{_annotation_name(annotation, index)}: unknown image_id {image_id!r}")
            continue
        by_image[image_id].append((index, annotation))
    folders = _image_folders(json_path)
    for image_id, (file_name, declared_size) in images.items():
        yield _read_image(json_path, file_name, declared_size, by_image[image_id], categories, folders, options)


def _read_image(
    json_path: Path,
    file_name: str,
    declared_size: tuple[float, float],
    annotations: list[tuple[int, dict[str, Any]]],
    categories: dict[Id, str],
    folders: list[Path],
    options: ReadOptions,
) -> ImageRecord | Problem:
    found = sized_image(json_path, file_name, folders, declared_size, options, context=f"image {file_name!r}: ")
    if isinstance(found, Problem):
        return found
    boxes: list[list[float]] = []
    labels: list[str] = []
    for index, annotation in annotations:
        try:
            box, label = _read_annotation(annotation, categories, found, options)
        except BadAnnotation as error:
            return Problem(json_path, f"image {file_name!r}, {_annotation_name(annotation, index)}: {error}")
        boxes.append(box)
        labels.append(label)
    return ImageRecord(found.path, *found.size, boxes, tuple(labels), key=file_name,
                       orientation=found.geometry.orientation)


def _read_annotation(
    annotation: dict[str, Any], categories: dict[Id, str], image: SizedImage, options: ReadOptions
) -> tuple[list[float], str]:
    bbox = annotation.get("bbox")
    if not (isinstance(bbox, list) and len(bbox) == 4 and all(map(_is_number, bbox))):
        raise BadAnnotation(f"bbox must be [x, y, w, h] numbers, got {bbox!r}")
    category_id = annotation.get("category_id")
    if not _is_id(category_id) or category_id not in categories:
        raise BadAnnotation(f"unknown category_id {category_id!r}")
    x, y, w, h = bbox
    box = image.box(x, y, x + w, y + h)
    return box, class_label(str(category_id), categories[category_id], options)


def _section(data: object, key: str, required: bool = True) -> list[Any]:
    if not isinstance(data, dict):
        raise BadAnnotation("the top level is not an object")
    section = data.get(key, None if required else [])
    if not isinstance(section, list):
        raise BadAnnotation(f"no {key!r} list")
    return section


def _images_by_id(images: list[Any]) -> dict[Id, tuple[str, tuple[float, float]]]:
    """file_name and declared (width, height) by image id."""
    by_id: dict[Id, tuple[str, tuple[float, float]]] = {}
    for index, image in enumerate(images):
        if not isinstance(image, dict):
            raise BadAnnotation(f"images[{index}] is not an object")
        image_id, file_name = image.get("id"), image.get("file_name")
        width, height = image.get("width"), image.get("height")
        if not (_is_id(image_id) and isinstance(file_name, str) and _is_number(width) and _is_number(height)):
            raise BadAnnotation(f"images[{index}] needs an id, a file_name, a width and a height")
        if image_id in by_id:
            raise BadAnnotation(f"images[{index}] repeats image id {image_id!r}")
        by_id[image_id] = (file_name, (width, height))
    return by_id


def _category_names(categories: list[Any]) -> dict[Id, str]:
    names: dict[Id, str] = {}
    for index, category in enumerate(categories):
        if not (isinstance(category, dict) and _is_id(category.get("id")) and isinstance(category.get("name"), str)):
            raise BadAnnotation(f"categories[{index}] needs an id and a name")
        names[category["id"]] = category["name"]
    return names


def _image_folders(json_path: Path) -> list[Path]:
    folder = json_path.parent
    folders = [folder, folder / IMAGES_DIR]
    if folder.name == ANNOTATIONS_DIR:
        split = json_path.stem.removeprefix(INSTANCES_PREFIX)
        data_set = folder.parent
        folders += [data_set, data_set / IMAGES_DIR, data_set / split, data_set / IMAGES_DIR / split]
    return folders


def _annotation_name(annotation: object, index: int) -> str:
    """How to point at an annotation: its id when it has one, else its place in the list."""
    if isinstance(annotation, dict) and _is_id(annotation.get("id")):
        return f"annotation {annotation['id']!r}"
    return f"annotations[{index}]"


def _is_id(value: object) -> bool:
    return isinstance(value, int | str) and not isinstance(value, bool)


def _is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)
