"""Bring a database's schema to the newest migration, with Alembic configured in code.

The migrations ship inside the package (`migrations/`), so an installed gunwatch upgrades its store with
no alembic.ini. A new migration, from a checkout, after changing `schema.py`:

    from alembic import command
    from gunwatch.events.store.migrate import alembic_config
    with engine.begin() as connection:   # a database at the current head
        command.revision(alembic_config(connection), message="...", autogenerate=True)

then review the generated file in `migrations/versions/`.
"""

from __future__ import annotations

import threading
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, text
from sqlalchemy.engine import Connection

from gunwatch.events.store.engine import WRITE_OPTIONS

MIGRATIONS = Path(__file__).resolve().parent / "migrations"
# Any fixed number: PostgreSQL sessions that upgrade at the same time take turns on this advisory lock.
_PG_LOCK_KEY = 0x67756E77  # "gunw"
# Threads of one process that open stores at once take turns too (SQLite serialises on BEGIN IMMEDIATE).
_upgrading = threading.Lock()


def alembic_config(connection: Connection) -> Config:
    """An Alembic config that runs the packaged migrations on `connection` (read by migrations/env.py)."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["connection"] = connection
    return config


def head_revision() -> str | None:
    return ScriptDirectory(str(MIGRATIONS)).get_current_head()


def current_revision(engine: Engine) -> str | None:
    with engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


def upgrade_to_head(engine: Engine) -> None:
    """Apply the migrations the database lacks, in one transaction; nothing when it is at head."""
    with _upgrading, engine.connect() as connection:
        connection = connection.execution_options(**WRITE_OPTIONS)
        with connection.begin():
            if connection.dialect.name == "postgresql":
                connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _PG_LOCK_KEY})
            command.upgrade(alembic_config(connection), "head")
