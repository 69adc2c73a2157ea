"""A small copy of some splits of a data set, to carry to a training machine that cannot see the original.

Images are shrunk to a longest side (never enlarged, unless asked: a copy at the size of users' photos
measures what the pipeline does with them) and re-encoded; boxes are written normalised in the notebook
layout, so they stay exact whatever the new size. File names are kept, so the original split file still
selects the same images.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from PIL import Image
from tqdm import tqdm

from gunwatch.data.images import load_rgb, resize_by, shrink_to
from gunwatch.data.layouts.notebook import IMAGES_DIR, LABELS_DIR
from gunwatch.data.records import ImageRecord


@dataclass(frozen=True)
class PackSummary:
    images: int
    guns: int
    bytes: int


def annotation_lines(record: ImageRecord) -> list[str]:
    """The notebook layout's lines: `1 xc yc w h` per gun (normalised), or `0 0 0 0 0` for none."""
    if not len(record.gun_boxes):
        return ["0 0 0 0 0"]
    lines = []
    for x1, y1, x2, y2 in record.gun_boxes:
        xc, yc = (x1 + x2) / 2 / record.width, (y1 + y2) / 2 / record.height
        lines.append(f"1 {xc:.6f} {yc:.6f} {(x2 - x1) / record.width:.6f} {(y2 - y1) / record.height:.6f}")
    return lines


def pack_records(records: list[ImageRecord], out: Path, longest_side: int, quality: int,
                 enlarge: bool = False) -> PackSummary:
    """Write `records` to `out` in the notebook layout, images at most `longest_side` px at `quality`
    (`enlarge`: exactly `longest_side`, smaller images scaled up)."""
    stems = [Path(record.key).stem for record in records]
    if len(set(stems)) != len(stems):
        raise ValueError("two images share a file stem; the notebook layout pairs image and label by stem")
    (out / IMAGES_DIR).mkdir(parents=True, exist_ok=True)
    (out / LABELS_DIR).mkdir(parents=True, exist_ok=True)
    manifest, total, guns = [], 0, 0
    for record, stem in tqdm(list(zip(records, stems, strict=True)), desc="packing", unit="img"):
        image = load_rgb(record.image_path)
        image = resize_by(image, longest_side / max(image.shape[:2])) if enlarge else shrink_to(image, longest_side)[0]
        target = out / IMAGES_DIR / record.key
        # The format follows the kept file name (JPEG for .jpg); quality applies where the format has one.
        Image.fromarray(image).save(target, quality=quality)
        (out / LABELS_DIR / f"{stem}.txt").write_text("\n".join(annotation_lines(record)) + "\n")
        manifest.append(json.dumps({"id": stem, "origin": record.origin or "unknown"}))
        total += target.stat().st_size
        guns += len(record.gun_boxes)
    (out / "manifest.jsonl").write_text("\n".join(manifest) + "\n")
    return PackSummary(len(records), guns, total)
