"""Half-written evidence files left by a crash or a kill: `NAME.jpg.part` (snapshots) and `NAME.part.mp4`
(clips), renamed into place when complete. No event names them and nothing else would ever delete them, so a
site that crashed now and then would fill its disk with them over months.

A file counts as stray once nothing has written to it for `STRAY_AGE_S`: a snapshot takes milliseconds and
a clip seconds, so one that old belongs to a writer that is gone (a clip being written right now is spared).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

STRAY_AGE_S = 3600.0


@dataclass(frozen=True)
class Stray:
    path: Path
    size: int


def is_partial(name: str) -> bool:
    return name.endswith(".part") or ".part." in name


def stray_partials(folder: Path, now: float, min_age_s: float = STRAY_AGE_S) -> list[Stray]:
    """The partial files under `folder` untouched for `min_age_s`, oldest first."""
    found: list[tuple[float, Stray]] = []
    for root, _dirs, names in os.walk(folder):
        for name in names:
            if not is_partial(name):
                continue
            path = Path(root) / name
            try:
                status = path.stat()
            except FileNotFoundError:  # finished and renamed meanwhile
                continue
            if now - status.st_mtime >= min_age_s:
                found.append((status.st_mtime, Stray(path, status.st_size)))
    return [stray for _, stray in sorted(found, key=lambda pair: pair[0])]


def delete_strays(strays: list[Stray]) -> tuple[list[Stray], list[str]]:
    """(deleted or already gone, 'PATH: error' for those that could not be)."""
    deleted, failed = [], []
    for stray in strays:
        try:
            stray.path.unlink()
        except FileNotFoundError:
            pass
        except OSError as error:
            failed.append(f"{stray.path}: {error.strerror or error}")
            continue
        deleted.append(stray)
    return deleted, failed
