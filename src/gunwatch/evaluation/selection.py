"""Which images an evaluation uses: a named split of a data set, or all of it."""

from __future__ import annotations

import random
import re
import sys
from dataclasses import dataclass
from pathlib import Path

from gunwatch.data.layouts import read_dataset
from gunwatch.data.layouts.base import ReadOptions
from gunwatch.data.records import DatasetError, ImageRecord
from gunwatch.data.split import load_split

SPLITS_DIR = Path("splits")


@dataclass(frozen=True)
class Selection:
    records: list[ImageRecord]
    description: str  # e.g. "test split of PistolData_merged (splits/pistoldata_merged.json)"


def default_split_file(data: Path) -> Path:
    """splits/<data set folder name, lower-case>.json, as `gunwatch data split` writes it."""
    return SPLITS_DIR / f"{slug(data.resolve().name)}.json"


def slug(name: str) -> str:
    return re.sub(r"[^a-z0-9]+", "_", name.lower()).strip("_") or "dataset"


def select_records(
    data: Path,
    split: str | None,
    split_file: Path | None = None,
    layout: str | None = None,
    options: ReadOptions | None = None,
) -> Selection:
    """split None means: the test split when the data set has a split file, otherwise every image."""
    dataset = read_dataset(data, layout=layout, options=options)
    if dataset.problems:
        print(f"note: {len(dataset.problems)} items skipped (see `gunwatch data check {data}`)", file=sys.stderr)
    split_path = split_file or default_split_file(data)
    if split == "all" or (split is None and not split_path.exists()):
        return Selection(dataset.records, f"all {len(dataset.records)} images of {data}")
    if not split_path.exists():
        raise DatasetError(f"{split_path}: no split file for {data}; make one with `gunwatch data split {data}`")
    name = split or "test"
    records = load_split(split_path).select(dataset, name)
    return Selection(records, f"the {name} split of {data} ({split_path})")


def sample_records(records: list[ImageRecord], limit: int | None, seed: int = 0) -> list[ImageRecord]:
    """A fixed sample of `limit` records (all when None), gun and gun-free images in their proportions."""
    if limit is None or limit >= len(records):
        return records
    guns = [r for r in records if r.has_gun]
    free = [r for r in records if not r.has_gun]
    gun_share = round(limit * len(guns) / len(records))
    rng = random.Random(seed)
    chosen = set(map(id, rng.sample(guns, gun_share) + rng.sample(free, limit - gun_share)))
    return [record for record in records if id(record) in chosen]  # in split order
