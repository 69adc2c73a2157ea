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

from gunwatch import __version__
from gunwatch.events.store.engine import WRITE_OPTIONS
from gunwatch.events.store.errors import SchemaTooNew

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


def known_revisions() -> list[str]:
    """Every revision this gunwatch has a migration for, oldest first."""
    return [script.revision for script in reversed(list(ScriptDirectory(str(MIGRATIONS)).walk_revisions()))]


def refuse_unknown_revision(revision: str | None, store: str) -> None:
    """SchemaTooNew when `revision` (the store's) is none of ours: a newer gunwatch upgraded the store, and
    an older one neither downgrades it nor runs on tables it does not know."""
    if revision is None or revision in known_revisions():
        return
    raise SchemaTooNew(
        f"the event store {store} is at schema revision {revision}, newer than this gunwatch {__version__} knows "
        f"(its newest is {head_revision()}): a newer gunwatch upgraded it, and a store is never downgraded. "
        "Install that newer gunwatch again, or restore a backup taken before the upgrade (gunwatch restore)"
    )


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
            current = MigrationContext.configure(connection).get_current_revision()
            refuse_unknown_revision(current, engine.url.render_as_string(hide_password=True))
            command.upgrade(alembic_config(connection), "head")
