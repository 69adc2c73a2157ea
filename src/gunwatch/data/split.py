"""A seeded, stratified train / val / test split, kept in a file so every number uses the same test images."""

from __future__ import annotations

import json
import random
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

from gunwatch.data.records import Dataset, DatasetError, ImageRecord, Problem

SPLIT_NAMES = ("train", "val", "test")


@dataclass(frozen=True)
class Split:
    seed: int
    fractions: dict[str, float]
    keys: dict[str, list[str]]  # split name -> image keys (file names)

    def to_json(self, dataset_name: str) -> str:
        payload = {"dataset": dataset_name, "seed": self.seed, "fractions": self.fractions, **self.keys}
        return json.dumps(payload, indent=1) + "\n"

    def select(self, dataset: Dataset, name: str) -> list[ImageRecord]:
        """The records of one split; a key the data set lacks is an error, not a silent shrink."""
        if name not in self.keys:
            raise DatasetError(f"unknown split {name!r} (have: {', '.join(self.keys)})")
        by_key = dataset.by_key()
        missing = [key for key in self.keys[name] if key not in by_key]
        if missing:
            raise DatasetError(
                f"{len(missing)} images of the {name!r} split are not in {dataset.root} "
                f"(first: {missing[0]}); is this the data set the split was made for?"
            )
        return [by_key[key] for key in self.keys[name]]


def stratum(record: ImageRecord) -> tuple[str, bool]:
    return (record.origin or "unknown", record.has_gun)


def make_split(records: list[ImageRecord], fractions: dict[str, float], seed: int) -> Split:
    """Shuffle each (origin, gun / no gun) stratum with the seed and cut it by the fractions."""
    if abs(sum(fractions.values()) - 1.0) > 1e-6:
        raise ValueError(f"split fractions must add up to 1, got {fractions}")
    strata: dict[tuple[str, bool], list[str]] = defaultdict(list)
    for record in records:
        strata[stratum(record)].append(record.key)
    rng = random.Random(seed)
    keys: dict[str, list[str]] = {name: [] for name in fractions}
    for stratum_key in sorted(strata):
        members = sorted(strata[stratum_key])
        rng.shuffle(members)
        start = 0
        for index, (name, fraction) in enumerate(fractions.items()):
            # The last split takes the remainder so no image is lost to rounding.
            end = len(members) if index == len(fractions) - 1 else start + round(fraction * len(members))
            keys[name].extend(members[start:end])
            start = end
    return Split(seed=seed, fractions=dict(fractions), keys={name: sorted(v) for name, v in keys.items()})


def group_of(record: ImageRecord) -> str:
    """A record's group: the first folder of its key (YOLO's images/<group>/...), or '' for a flat layout."""
    return record.key.split("/", 1)[0] if "/" in record.key else ""


def make_group_split(records: list[ImageRecord], groups: dict[str, str]) -> Split:
    """Whole groups to splits (group -> split name), for sets whose images are frames of a few videos:
    neighbouring frames are near-copies, so a split by frame would test on what it trained on."""
    unknown = sorted(set(groups.values()) - set(SPLIT_NAMES))
    if unknown:
        raise ValueError(f"unknown split names {unknown} (have: {', '.join(SPLIT_NAMES)})")
    present = {group_of(record) for record in records}
    missing, unassigned = sorted(set(groups) - present), sorted(present - set(groups))
    if missing or unassigned:
        raise ValueError(f"groups must match the data set's: not in it {missing}, not assigned {unassigned} "
                         f"(it has {sorted(present)})")
    keys: dict[str, list[str]] = {name: [] for name in SPLIT_NAMES}
    for record in records:
        keys[groups[group_of(record)]].append(record.key)
    return Split(seed=0, fractions={}, keys={name: sorted(v) for name, v in keys.items()})


def load_split(path: Path | str) -> Split:
    path = Path(path)
    try:
        payload = json.loads(path.read_text())
    except FileNotFoundError as error:
        raise DatasetError(Problem(path, "split file not found (make one with `gunwatch data split`)")) from error
    except json.JSONDecodeError as error:
        raise DatasetError(Problem(path, f"split file is not JSON ({error.msg})", error.lineno)) from error
    if not isinstance(payload, dict):
        raise DatasetError(Problem(path, "split file must hold a JSON object with train / val / test lists"))
    names = [name for name in SPLIT_NAMES if name in payload]
    if not names:
        raise DatasetError(Problem(path, f"split file has none of the keys {', '.join(SPLIT_NAMES)}"))
    for name in names:
        keys = payload[name]
        if not isinstance(keys, list) or not all(isinstance(key, str) for key in keys):
            raise DatasetError(Problem(path, f"split {name!r} must be a list of image file names"))
    seed = payload.get("seed", 0)
    if not isinstance(seed, int) or isinstance(seed, bool):
        raise DatasetError(Problem(path, f"seed must be an integer, got {seed!r}"))
    return Split(
        seed=seed,
        fractions=dict(payload.get("fractions", {})),
        keys={name: list(payload[name]) for name in names},
    )
