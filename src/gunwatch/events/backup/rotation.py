"""Old backups go once newer ones exist: `gunwatch backup --keep N` (a daily timer keeps two weeks with 14).

Only the backups of the same store in the same folder count, oldest first; the one just taken always stays,
and it is the one an upgrade looks for (it holds what the store holds now).
"""

from __future__ import annotations

import shutil
from pathlib import Path

from gunwatch.events.backup.manifest import Backup, list_backups


def rotate_backups(folder: Path, kept: Backup, keep: int) -> list[Path]:
    """Deletes the oldest backups of `kept`'s store in `folder` until `keep` are left (`kept` among them);
    returns the folders deleted."""
    if keep < 1:
        raise ValueError(f"--keep {keep}: at least the backup just taken is kept (1 or more)")
    same_store = [backup for backup in list_backups(folder) if backup.manifest.store == kept.manifest.store
                  and backup.folder.resolve() != kept.folder.resolve()]
    going = same_store[: max(0, len(same_store) - (keep - 1))]
    for backup in going:
        shutil.rmtree(backup.folder)
    return [backup.folder for backup in going]
