"""Layout readers, registered explicitly, and the one entry point that picks and runs them."""

from __future__ import annotations

from pathlib import Path
from types import ModuleType

from gunwatch.data.layouts import coco, notebook, voc, yolo
from gunwatch.data.layouts.base import ReadOptions
from gunwatch.data.records import Dataset, DatasetError, ImageRecord, Problem

# Order matters for detection: the most specific layout first. YOLO needs two named folders, VOC needs .xml
# annotations, and COCO (which takes a lone *.json in a folder) goes last.
LAYOUTS: dict[str, ModuleType] = {
    notebook.NAME: notebook,
    yolo.NAME: yolo,
    voc.NAME: voc,
    coco.NAME: coco,
}


def detect_layout(root: Path) -> str:
    for name, layout in LAYOUTS.items():
        if layout.matches(root):
            return name
    raise DatasetError(
        Problem(root, f"no known data set layout here (known: {', '.join(LAYOUTS)}); force one with --format")
    )


def read_dataset(
    root: Path | str,
    layout: str | None = None,
    strict: bool = False,
    options: ReadOptions | None = None,
) -> Dataset:
    """Read a data set; strict raises DatasetError at the first problem, otherwise problems are collected."""
    root = Path(root)
    if not root.exists():
        raise DatasetError(Problem(root, "no such file or folder"))
    name = layout or detect_layout(root)
    if name not in LAYOUTS:
        raise DatasetError(Problem(root, f"unknown format {name!r} (known: {', '.join(LAYOUTS)})"))
    records: list[ImageRecord] = []
    problems: list[Problem] = []
    for item in LAYOUTS[name].read(root, options or ReadOptions()):
        if isinstance(item, Problem):
            if strict:
                raise DatasetError(item)
            problems.append(item)
        else:
            records.append(item)
    return Dataset(root=root, layout=name, records=records, problems=problems)
