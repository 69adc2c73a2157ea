"""What every layout reader takes and gives."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from gunwatch import GUN_LABEL
from gunwatch.data.images import ImageDecodeError, image_size
from gunwatch.data.records import ImageRecord, Problem
from gunwatch.data.validation import size_mismatch

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


def size_or_problem(image_path: Path, options: ReadOptions) -> tuple[int, int] | Problem:
    """(width, height) of an image, or the Problem that it does not decode."""
    try:
        return image_size(image_path, verify=options.verify_images)
    except ImageDecodeError as error:
        return Problem(image_path, str(error))


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
) -> tuple[Path, int, int] | Problem:
    """Find an annotation's image and read its size, checking it against the size the annotation states."""
    image_path = find_image(file_name, folders)
    if image_path is None:
        return Problem(annotation_path, f"image {file_name!r} not found (looked in {', '.join(map(str, folders))})")
    size = size_or_problem(image_path, options)
    if isinstance(size, Problem):
        return size
    if message := size_mismatch(*declared_size, *size):
        return Problem(annotation_path, f"{context}{message}")
    return image_path, *size
