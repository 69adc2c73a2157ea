"""Files only the account gunwatch runs as may read: the event store (action tokens, phone numbers, notes)
and the evidence (pictures and clips of people).

Files are created 0600 and the folders gunwatch creates for them 0700, whatever the umask (it can only take
bits away). Folders that exist already are left as they are: an operator may have shared one on purpose.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path
from typing import BinaryIO

PRIVATE_FILE_MODE = 0o600
PRIVATE_DIR_MODE = 0o700


def make_private_dirs(folder: Path) -> None:
    """`mkdir -p folder`, each folder it creates 0700."""
    missing = []
    current = Path(folder)
    while not current.is_dir():
        missing.append(current)
        if current.parent == current:
            break
        current = current.parent
    for path in reversed(missing):
        # Made meanwhile by another camera's thread: fine. A file in the way fails the write that follows.
        with contextlib.suppress(FileExistsError):
            path.mkdir(mode=PRIVATE_DIR_MODE)


def open_private(path: Path) -> BinaryIO:
    """`path` opened to write from the start, created 0600; a file that was there is made 0600 too (an old
    `.part` left by a crash may have been created before gunwatch made files private)."""
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, PRIVATE_FILE_MODE)
    try:
        os.fchmod(descriptor, PRIVATE_FILE_MODE)
        return os.fdopen(descriptor, "wb")
    except BaseException:
        os.close(descriptor)
        raise


def create_private_file(path: Path) -> bool:
    """An empty `path`, 0600, in a folder made with `make_private_dirs`; a file that exists is left as it is.
    Returns whether it was created."""
    make_private_dirs(path.parent)
    try:
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, PRIVATE_FILE_MODE)
    except FileExistsError:
        return False
    os.close(descriptor)
    return True
