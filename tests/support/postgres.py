"""A throwaway PostgreSQL server on loopback for tests: initdb into a temporary folder, start, stop at the end.

The server binaries come from $GUNWATCH_PG_BIN, from Debian's /usr/lib/postgresql/N/bin (`apt-get
install -y postgresql`) or from PATH. Without them the tests that need the server skip, and say why;
with GUNWATCH_REQUIRE_POSTGRES=1 (CI) that is a failure instead, so a missing package cannot pass unseen.
PostgreSQL refuses to run as root, so as root the server runs as the `postgres` system user.

    def test_x(postgres_url):   # a fresh, empty database on a session-wide server
        ...
"""

from __future__ import annotations

import itertools
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import NoReturn

import pytest

SERVER_USER = "postgres"  # the system user Debian's package creates; also the database superuser here
START_ATTEMPTS = 3  # a free port can be taken between choosing it and the server binding it
# Durability is pointless for a throwaway server, and fsync makes CREATE DATABASE slow.
FAST_SETTINGS = ("fsync=off", "synchronous_commit=off", "full_page_writes=off")


@dataclass
class PostgresServer:
    bin_dir: Path
    root: Path  # data directory, log and unix socket
    port: int
    run_as: list[str]  # command prefix that runs a binary as the server's user (empty: as ourselves)

    def url(self, database: str = "postgres") -> str:
        return f"postgresql+psycopg://{SERVER_USER}@127.0.0.1:{self.port}/{database}"

    def create_database(self, name: str) -> str:
        """A new empty database; its URL."""
        import psycopg

        with psycopg.connect(host="127.0.0.1", port=self.port, user=SERVER_USER, dbname="postgres") as connection:
            connection.autocommit = True  # CREATE DATABASE cannot run in a transaction
            connection.execute(f'CREATE DATABASE "{name}"')
        return self.url(name)

    def drop_database(self, name: str) -> None:
        """Dropped, with whatever connections a test left open to it (its files go now: a session's hundreds of
        databases left to the end took minutes to delete)."""
        import psycopg

        with psycopg.connect(host="127.0.0.1", port=self.port, user=SERVER_USER, dbname="postgres") as connection:
            connection.autocommit = True
            connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    def log_tail(self, lines: int = 20) -> str:
        log = self.root / "server.log"
        return "\n".join(log.read_text(errors="replace").splitlines()[-lines:]) if log.exists() else "(no log)"

    def pg_ctl(self, *args: str) -> subprocess.CompletedProcess[str]:
        command = [*self.run_as, str(self.bin_dir / "pg_ctl"), "-D", str(self.root / "data"), *args]
        return subprocess.run(command, cwd=self.root, capture_output=True, text=True, timeout=90)

    def start(self) -> bool:
        options = [f"-c port={self.port}", "-c listen_addresses=127.0.0.1", f"-c unix_socket_directories={self.root}"]
        options += [f"-c {setting}" for setting in FAST_SETTINGS]
        log = str(self.root / "server.log")
        return self.pg_ctl("-l", log, "-w", "-t", "60", "-o", " ".join(options), "start").returncode == 0

    def stop(self) -> None:
        self.pg_ctl("-m", "immediate", "-w", "stop")

    def crash(self) -> None:
        """Stop at once, as a crash, keeping what was committed: this throwaway server runs without
        synchronous commit, so an immediate stop could lose the last commits' WAL (a test's tables
        included); a checkpoint first makes them durable, as a production server's commits are."""
        import psycopg

        with psycopg.connect(host="127.0.0.1", port=self.port, user=SERVER_USER, dbname="postgres") as connection:
            connection.autocommit = True
            connection.execute("CHECKPOINT")
        self.stop()


def find_bin_dir() -> Path | None:
    """The folder holding initdb and pg_ctl, or None."""
    candidates = [os.environ.get("GUNWATCH_PG_BIN", "")]
    candidates += sorted(
        (str(path) for path in Path("/usr/lib/postgresql").glob("*/bin")), key=_version, reverse=True
    )
    on_path = shutil.which("pg_ctl")
    candidates += [str(Path(on_path).parent)] if on_path else []
    for candidate in filter(None, candidates):
        if all((Path(candidate) / name).is_file() for name in ("initdb", "pg_ctl", "postgres")):
            return Path(candidate)
    return None


def _version(bin_dir: str) -> int:
    name = Path(bin_dir).parent.name
    return int(name) if name.isdigit() else 0


def _run_as() -> list[str]:
    """How to run the server: as ourselves, or as root through `runuser` as the postgres user."""
    if os.geteuid() != 0:
        return []
    try:
        pwd.getpwnam(SERVER_USER)
    except KeyError:
        _unavailable(f"running as root and there is no {SERVER_USER!r} user to run PostgreSQL as")
    runuser = shutil.which("runuser")
    if runuser is None:
        _unavailable("running as root and `runuser` (util-linux) is missing, so PostgreSQL cannot drop root")
    return [runuser, "-u", SERVER_USER, "--"]


def _unavailable(reason: str) -> NoReturn:
    if os.environ.get("GUNWATCH_REQUIRE_POSTGRES") == "1":
        pytest.fail(f"PostgreSQL tests required (GUNWATCH_REQUIRE_POSTGRES=1) but {reason}")
    pytest.skip(reason)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def start_postgres(bin_dir: Path, run_as: list[str]) -> PostgresServer:
    # Under /tmp: short enough for the unix socket path (about 100 characters at most), and reachable by
    # the postgres user, which a root-only $TMPDIR may not be.
    root = Path(tempfile.mkdtemp(prefix="gunwatch-pg-", dir="/tmp" if run_as else None))
    if run_as:
        shutil.chown(root, user=SERVER_USER)
    server = PostgresServer(bin_dir, root, _free_port(), run_as)
    initdb = [*run_as, str(bin_dir / "initdb"), "-D", str(root / "data"), "-U", SERVER_USER, "--auth=trust"]
    initdb += ["--no-sync", "--encoding=UTF8", "--locale=C"]
    result = subprocess.run(initdb, cwd=root, capture_output=True, text=True, timeout=120)
    if result.returncode != 0:
        shutil.rmtree(root, ignore_errors=True)
        pytest.fail(f"initdb failed:\n{result.stdout}\n{result.stderr}")
    for _ in range(START_ATTEMPTS):
        if server.start():
            return server
        server.port = _free_port()
    log = server.log_tail()
    shutil.rmtree(root, ignore_errors=True)
    pytest.fail(f"PostgreSQL did not start ({bin_dir}):\n{log}")


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    """One server for the whole session (starting one takes about a second); stopped and removed at the end."""
    bin_dir = find_bin_dir()
    if bin_dir is None:
        _unavailable(
            "PostgreSQL server binaries (initdb, pg_ctl) not found: `apt-get install postgresql`, "
            "or set GUNWATCH_PG_BIN to their folder"
        )
    server = start_postgres(bin_dir, _run_as())
    try:
        yield server
    finally:
        server.stop()
        shutil.rmtree(server.root, ignore_errors=True)


_database_numbers = itertools.count()


@pytest.fixture
def postgres_url(postgres_server: PostgresServer) -> Iterator[str]:
    """The URL of a fresh, empty database on the session's server; dropped after the test."""
    name = f"test_{os.getpid()}_{next(_database_numbers)}"
    yield postgres_server.create_database(name)
    try:
        postgres_server.drop_database(name)
    except Exception as error:  # the server stopped by the test itself (a crash test): the session's end removes it
        print(f"database {name} not dropped: {error}")
