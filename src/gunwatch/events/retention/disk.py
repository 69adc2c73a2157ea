"""The evidence disk: its free space, and the space files take (as `du` counts it: blocks, not lengths)."""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class DiskUsage:
    total: int  # bytes
    free: int  # bytes an unprivileged process may still write (statvfs f_bavail)


def disk_usage(folder: Path) -> DiskUsage:
    """The disk `folder` is on; a folder not made yet is on its nearest existing parent's disk."""
    path = Path(folder).absolute()
    while not path.exists() and path.parent != path:
        path = path.parent
    usage = shutil.disk_usage(path)
    return DiskUsage(usage.total, usage.free)


def file_space(path: str | Path) -> int:
    """The bytes `path` takes on its disk; 0 when it is missing."""
    try:
        return os.stat(path).st_blocks * 512
    except FileNotFoundError:
        return 0


def folder_space(folder: Path) -> int:
    """The bytes every file under `folder` takes; 0 for a folder not made yet."""
    total = 0
    for root, _dirs, files in os.walk(folder):
        for name in files:
            try:
                total += os.lstat(os.path.join(root, name)).st_blocks * 512
            except FileNotFoundError:  # pruned or renamed meanwhile
                continue
    return total


def size_text(size: int) -> str:
    """1.25 GB, 310.0 MB, 64 KB: a size as a person reads it."""
    if size >= 1024**3 // 10:
        return f"{size / 1024**3:.2f} GB"
    if size >= 1024**2:
        return f"{size / 1024**2:.1f} MB"
    return f"{size // 1024} KB"
