"""`gunwatch data check`: what a data set holds and what is wrong with it."""

from __future__ import annotations

from dataclasses import dataclass, field

from gunwatch.data.records import Dataset

# COCO's object size bins, by box area in pixels of the stored image.
SMALL_MAX_AREA = 32**2
MEDIUM_MAX_AREA = 96**2


@dataclass(frozen=True)
class DatasetSummary:
    images: int
    with_guns: int
    without_guns: int
    boxes: int
    small: int
    medium: int
    large: int
    problems: list[dict[str, object]] = field(default_factory=list)
    by_origin: dict[str, int] = field(default_factory=dict)
    # Photos their EXIF tag turns (a phone held upright): read as shown, boxes too (README, "Data formats").
    turned_by_exif: int = 0


def summarize(dataset: Dataset) -> DatasetSummary:
    gun_boxes = [record.gun_boxes for record in dataset.records]
    areas = [float((x2 - x1) * (y2 - y1)) for boxes in gun_boxes for x1, y1, x2, y2 in boxes]
    with_guns = sum(1 for boxes in gun_boxes if len(boxes))
    origins: dict[str, int] = {}
    for record in dataset.records:
        origins[record.origin or "unknown"] = origins.get(record.origin or "unknown", 0) + 1
    return DatasetSummary(
        images=len(dataset.records),
        with_guns=with_guns,
        without_guns=len(dataset.records) - with_guns,
        boxes=len(areas),
        small=sum(a < SMALL_MAX_AREA for a in areas),
        medium=sum(SMALL_MAX_AREA <= a < MEDIUM_MAX_AREA for a in areas),
        large=sum(a >= MEDIUM_MAX_AREA for a in areas),
        problems=[{"path": str(p.path), "line": p.line, "message": p.message} for p in dataset.problems],
        by_origin=dict(sorted(origins.items())),
        turned_by_exif=sum(record.orientation != 1 for record in dataset.records),
    )


def format_summary(summary: DatasetSummary, title: str) -> str:
    rows = [
        ("images", summary.images),
        ("with guns", summary.with_guns),
        ("without guns", summary.without_guns),
        ("gun boxes", summary.boxes),
        ("  small (< 32x32 px)", summary.small),
        ("  medium", summary.medium),
        ("  large (>= 96x96 px)", summary.large),
        *((f"origin {origin}", count) for origin, count in summary.by_origin.items()),
        *((("turned by EXIF tag", summary.turned_by_exif),) if summary.turned_by_exif else ()),
        ("problems (skipped)", len(summary.problems)),
    ]
    lines = [title, *(f"  {name:<22} {value:>7}" for name, value in rows)]
    if summary.turned_by_exif:
        # Normalised labels cannot say which picture they were drawn on; a tool that ignored the tag drew on the
        # stored pixels, and its boxes would be off. Worth a look before training on them.
        lines.append("  (boxes are read on the turned pictures, as viewers and annotation tools show them; labels "
                     "from a tool that ignored the tag would be off: look at a few with `gunwatch detect`)")
    lines += [f"  - {p['path']}{':' + str(p['line']) if p['line'] else ''}: {p['message']}" for p in summary.problems]
    return "\n".join(lines)
