"""What every layout reader takes and gives."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from gunwatch import GUN_LABEL
from gunwatch.data.images import ImageDecodeError, ImageGeometry, image_geometry
from gunwatch.data.orientation import stored_box_to_displayed
from gunwatch.data.records import ImageRecord, Problem
from gunwatch.data.validation import checked_box, size_mismatch

# Class names that mean "a handgun" when a data set does not say which of its classes are guns.
GUN_NAME_WORDS = ("gun", "pistol", "revolver", "firearm", "weapon")


@dataclass(frozen=True)
class ReadOptions:
    # Class ids or names to treat as guns; None means "guess from the names".
    gun_classes: frozenset[str] | None = None
    # Decode every image to catch broken files (slower; `data check` does it).
    verify_images: bool = False


class Layout(Protocol):
    NAME: str

    def matches(self, root: Path) -> bool: ...

    def read(self, root: Path, options: ReadOptions) -> Iterator[ImageRecord | Problem]: ...


def is_gun_class(class_id: str, name: str | None, options: ReadOptions) -> bool:
    if options.gun_classes is not None:
        return class_id in options.gun_classes or (name is not None and name in options.gun_classes)
    if name is None:
        return True  # a layout without names is taken as a single-class gun set
    return any(word in name.lower() for word in GUN_NAME_WORDS)


def class_label(class_id: str, name: str | None, options: ReadOptions) -> str:
    """The record label for a class: every gun class becomes GUN_LABEL, the others keep their name (or id)."""
    if is_gun_class(class_id, name, options):
        return GUN_LABEL
    return name if name is not None else class_id


def geometry_or_problem(image_path: Path, options: ReadOptions) -> ImageGeometry | Problem:
    """An image's stored size and EXIF orientation (its shown size: `.size`), or the Problem that it does not
    decode."""
    try:
        return image_geometry(image_path, verify=options.verify_images)
    except ImageDecodeError as error:
        return Problem(image_path, str(error))


@dataclass(frozen=True)
class SizedImage:
    """An annotation's image, and the pixels its boxes were drawn on."""

    path: Path
    geometry: ImageGeometry
    # The annotation states the stored size of an image its EXIF orientation turns sideways: the tool that
    # drew the boxes showed the stored pixels, so the boxes are turned as the picture is.
    boxes_on_stored_pixels: bool = False

    @property
    def size(self) -> tuple[int, int]:
        return self.geometry.size

    def box(self, x1: float, y1: float, x2: float, y2: float) -> list[float]:
        """An annotated xyxy box, checked against the picture it was drawn on, in the shown picture's pixels;
        raises BadAnnotation saying what is wrong with it."""
        if not self.boxes_on_stored_pixels:
            return checked_box(x1, y1, x2, y2, *self.size)
        stored = checked_box(x1, y1, x2, y2, *self.geometry.stored_size)
        return stored_box_to_displayed(stored, self.geometry.stored_size, self.geometry.orientation)


def find_image(file_name: str, folders: Sequence[Path]) -> Path | None:
    """The first of the folders that holds file_name (which may have sub-folders in it)."""
    for folder in folders:
        candidate = folder / file_name
        if candidate.is_file():
            return candidate
    return None


def text_lines_or_problem(path: Path, what: str) -> list[str] | Problem:
    """The lines of a text file, or the Problem that it is not text (e.g. a binary file under a .txt name)."""
    try:
        return path.read_text().splitlines()
    except UnicodeDecodeError as error:
        return Problem(path, f"{what} is not text ({error.reason})")


def sized_image(
    annotation_path: Path,
    file_name: str,
    folders: Sequence[Path],
    declared_size: tuple[float, float],
    options: ReadOptions,
    context: str = "",
) -> SizedImage | Problem:
    """Find an annotation's image and read its size, checking it against the size the annotation states
    (the shown size, or the stored one of a photo its EXIF orientation turns sideways)."""
    image_path = find_image(file_name, folders)
    if image_path is None:
        return Problem(annotation_path, f"image {file_name!r} not found (looked in {', '.join(map(str, folders))})")
    geometry = geometry_or_problem(image_path, options)
    if isinstance(geometry, Problem):
        return geometry
    message = size_mismatch(*declared_size, *geometry.size)
    if not message:
        return SizedImage(image_path, geometry)
    if geometry.size != geometry.stored_size and not size_mismatch(*declared_size, *geometry.stored_size):
        return SizedImage(image_path, geometry, boxes_on_stored_pixels=True)
    if geometry.orientation != 1:
        stored_width, stored_height = geometry.stored_size
        message += f" as shown (EXIF orientation {geometry.orientation}; stored {stored_width}x{stored_height})"
    return Problem(annotation_path, f"{context}{message}")
