"""The one record type every data set layout is read into."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from gunwatch import GUN_LABEL


@dataclass(frozen=True)
class ImageRecord:
    """One annotated image: boxes are absolute xyxy pixels of the image as shown (turned by its EXIF orientation,
    as `load_rgb` returns it); width and height are its shown size."""

    image_path: Path
    width: int
    height: int
    boxes: np.ndarray = field(default_factory=lambda: np.zeros((0, 4), np.float32))
    labels: tuple[str, ...] = ()
    origin: str | None = None
    # A stable name for split files, unique within the data set: the file name, or the path below the
    # images folder where a layout nests images in sub-folders (YOLO's images/train/a.jpg is "train/a.jpg").
    key: str = ""
    orientation: int = 1  # the file's EXIF orientation (1: stored upright); `data check` counts the turned ones

    def __post_init__(self) -> None:
        if not self.key:
            object.__setattr__(self, "key", self.image_path.name)
        boxes = np.asarray(self.boxes, dtype=np.float32).reshape(-1, 4)
        object.__setattr__(self, "boxes", boxes)
        if len(boxes) != len(self.labels):
            raise ValueError(f"{self.image_path}: {len(boxes)} boxes but {len(self.labels)} labels")

    @property
    def gun_boxes(self) -> np.ndarray:
        mask = np.array([label == GUN_LABEL for label in self.labels], dtype=bool)
        return self.boxes[mask] if len(mask) else self.boxes

    @property
    def has_gun(self) -> bool:
        return len(self.gun_boxes) > 0


@dataclass(frozen=True)
class Problem:
    """Something wrong in a data set, with the file (and line, where there is one) it is in."""

    path: Path
    message: str
    line: int | None = None

    def __str__(self) -> str:
        where = f"{self.path}:{self.line}" if self.line is not None else str(self.path)
        return f"{where}: {self.message}"


class DatasetError(Exception):
    """Raised in strict mode at the first problem, or when a data set cannot be read at all."""

    def __init__(self, problem: Problem | str):
        super().__init__(str(problem))
        self.problem = problem


@dataclass
class Dataset:
    """What a reader produced: the usable records and every problem it skipped."""

    root: Path
    layout: str
    records: list[ImageRecord]
    problems: list[Problem]

    def by_key(self) -> dict[str, ImageRecord]:
        records: dict[str, ImageRecord] = {}
        for record in self.records:
            if record.key in records:
                raise DatasetError(Problem(record.image_path, f"two images share the key {record.key!r}"))
            records[record.key] = record
        return records
