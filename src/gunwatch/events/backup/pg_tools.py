"""`pg_dump` and `pg_restore` for a PostgreSQL store: found on PATH, else in Debian's
/usr/lib/postgresql/N/bin (the newest N: a newer pg_dump reads older servers, never the reverse).

The password goes to the tools in PGPASSWORD, never on their command line, where `ps` would show it.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

from sqlalchemy import URL

from gunwatch.events.backup.errors import BackupError

DEBIAN_BINARIES = Path("/usr/lib/postgresql")
TIMEOUT_S = 6 * 3600  # a dump of a big store takes long; one that hangs for good must still end


def find_tool(name: str) -> Path:
    on_path = shutil.which(name)
    if on_path is not None:
        return Path(on_path)
    versions = sorted(DEBIAN_BINARIES.glob(f"*/bin/{name}"), key=_version, reverse=True)
    if versions:
        return versions[0]
    raise BackupError(f"{name} not found on PATH nor in {DEBIAN_BINARIES}/*/bin: a PostgreSQL store is backed "
                      "up and restored with PostgreSQL's own tools (apt-get install postgresql-client)")


def _version(path: Path) -> int:
    name = path.parent.parent.name
    return int(name) if name.isdigit() else 0


def connection_arguments(url: URL) -> tuple[list[str], dict[str, str]]:
    """A libpq connection string naming the database (its query, such as sslmode, included; no password),
    and the environment with the password."""
    keywords: dict[str, object] = {"dbname": url.database, "host": url.host, "port": url.port, "user": url.username}
    keywords |= {key: value for key, value in url.query.items() if isinstance(value, str)}
    conninfo = " ".join(f"{key}={_quoted(str(value))}" for key, value in keywords.items() if value is not None)
    environment = dict(os.environ)
    if url.password is not None:
        environment["PGPASSWORD"] = str(url.password)
    return [f"--dbname={conninfo}"], environment


def _quoted(value: str) -> str:
    escaped = value.replace("\\", "\\\\").replace("'", "\\'")
    return f"'{escaped}'"


def dump(url: URL, target: Path, snapshot: str) -> None:
    """The database as `pg_dump`'s custom format into `target`, as the exported `snapshot` sees it."""
    options, environment = connection_arguments(url)
    _run([str(find_tool("pg_dump")), "--format=custom", f"--snapshot={snapshot}", f"--file={target}", *options],
         environment, "pg_dump")


def restore(url: URL, source: Path) -> None:
    """`pg_restore` of `source` into the (empty) database, in one transaction: all or nothing."""
    options, environment = connection_arguments(url)
    _run([str(find_tool("pg_restore")), "--single-transaction", "--exit-on-error", "--no-owner", "--no-privileges",
          *options, str(source)], environment, "pg_restore")


def _run(command: list[str], environment: dict[str, str], tool: str) -> None:
    try:
        result = subprocess.run(command, env=environment, capture_output=True, text=True, timeout=TIMEOUT_S)
    except (OSError, subprocess.TimeoutExpired) as error:
        raise BackupError(f"{tool} could not run: {error}") from None
    if result.returncode != 0:
        lines = (result.stderr or result.stdout).strip().splitlines()
        raise BackupError(f"{tool} failed (exit {result.returncode}): {' '.join(lines[-3:]) or 'no message'}")
