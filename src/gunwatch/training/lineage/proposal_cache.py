"""Selective search proposals of a split's images, computed once and kept on disk (R-CNN and Fast R-CNN).

Selective search costs about a second an image on one core, so the trainers read it from a cache: one
`.npz` file per (data set, split file, split name, proposal settings) under `runs/lineage-proposals/`. The
file is rewritten atomically (a temporary file, then a rename) after every chunk of images, so an
interrupted run loses at most one chunk and the next run computes only the images not yet in it. Two
trainers may fill the same file at once (R-CNN's and Fast R-CNN's runs share it): each write takes a lock
and merges with what the file holds by then, so neither drops the other's images. Boxes are float32 xyxy
in the original image's pixels, in selective search's own order.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import tempfile
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
from tqdm import tqdm

from gunwatch.data.images import load_rgb
from gunwatch.data.records import ImageRecord
from gunwatch.inference.proposals import ProposalSettings, selective_search

DEFAULT_FOLDER = Path("runs/lineage-proposals")
_FORMAT = 1


@dataclass(frozen=True)
class ProposalCache:
    """The cache file of one split's proposals; `compute` fills it, `load` reads it."""

    path: Path
    settings: ProposalSettings

    @classmethod
    def for_split(cls, data: Path, split_file: Path, split_name: str, settings: ProposalSettings,
                  folder: Path = DEFAULT_FOLDER) -> ProposalCache:
        """The file for (data set, split file, split name, settings): the names a reader can tell apart, then
        a hash of the full paths and settings so two data sets of the same name never share a file."""
        ident = json.dumps({"data": str(Path(data).resolve()), "split": str(Path(split_file).resolve()),
                            "name": split_name, "settings": asdict(settings), "format": _FORMAT}, sort_keys=True)
        digest = hashlib.sha256(ident.encode()).hexdigest()[:10]
        name = (f"{Path(data).name}-{Path(split_file).stem}-{split_name}-"
                f"{settings.mode}{settings.max_side}-{settings.limit}-{digest}.npz")
        return cls(Path(folder) / name, settings)

    def load(self, keys: Sequence[str] | None = None) -> dict[str, np.ndarray]:
        """{image key: boxes (N, 4) float32 in original pixels}: all that is cached, or just `keys` (a key
        not cached yet is a KeyError: call `compute` first)."""
        stored = self._read()
        if keys is None:
            return stored
        missing = [key for key in keys if key not in stored]
        if missing:
            raise KeyError(f"{len(missing)} images have no proposals in {self.path} (first: {missing[0]}); "
                           "compute them first")
        return {key: stored[key] for key in keys}

    def compute(self, records: Sequence[ImageRecord], threads: int | None = 1, chunk: int = 25,
                progress: bool = True, desc: str = "selective search") -> dict[str, np.ndarray]:
        """Proposals of `records`, computing only those not cached yet; returns them for `records` only."""
        stored = self._read()
        todo = [record for record in records if record.key not in stored]
        if todo:
            with tqdm(total=len(records), initial=len(records) - len(todo), desc=desc, unit="img",
                      disable=not progress) as bar:
                for index, record in enumerate(todo, start=1):
                    stored[record.key] = selective_search(load_rgb(record.image_path), self.settings, threads)
                    bar.update(1)
                    if index % chunk == 0 or index == len(todo):
                        stored = self._merge_and_write(stored)
        return {record.key: stored[record.key] for record in records}

    def _read(self) -> dict[str, np.ndarray]:
        if not self.path.exists():
            return {}
        with np.load(self.path, allow_pickle=False) as data:
            saved = json.loads(str(data["settings"]))
            if saved != asdict(self.settings):
                raise ValueError(f"{self.path} holds proposals made with {saved}, not {asdict(self.settings)}")
            keys, offsets, boxes = data["keys"].tolist(), data["offsets"], data["boxes"]
        return {key: boxes[offsets[i] : offsets[i + 1]] for i, key in enumerate(keys)}

    def _merge_and_write(self, stored: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        """Writes `stored` united with what another process wrote meanwhile (under an exclusive lock on a
        side file, so two writers never lose each other's images); returns the union."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.path.with_suffix(".lock"), "a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            merged = {**self._read(), **stored}
            self._write(merged)
        return merged

    def _write(self, stored: dict[str, np.ndarray]) -> None:
        keys = list(stored)
        counts = np.array([len(stored[key]) for key in keys], dtype=np.int64)
        offsets = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
        boxes = np.concatenate([stored[key] for key in keys]) if keys else np.zeros((0, 4), np.float32)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        handle, temporary = tempfile.mkstemp(dir=self.path.parent, prefix=self.path.stem, suffix=".tmp")
        try:
            with os.fdopen(handle, "wb") as file:
                np.savez(file, keys=np.array(keys, dtype=str), offsets=offsets,
                         boxes=boxes.astype(np.float32).reshape(-1, 4),
                         settings=np.array(json.dumps(asdict(self.settings), sort_keys=True)))
            os.replace(temporary, self.path)
        except BaseException:
            Path(temporary).unlink(missing_ok=True)
            raise


def split_proposals(data: Path, split_file: Path, split_name: str, records: Sequence[ImageRecord],
                    settings: ProposalSettings | None = None, folder: Path = DEFAULT_FOLDER,
                    threads: int | None = 1, progress: bool = True) -> dict[str, np.ndarray]:
    """What the trainers call: the proposals of `records` (images of the split `split_name`), cached."""
    cache = ProposalCache.for_split(data, split_file, split_name, settings or ProposalSettings(), folder)
    return cache.compute(records, threads=threads, progress=progress, desc=f"selective search ({split_name})")
