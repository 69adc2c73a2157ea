"""What the store's database did: PostgreSQL's own counters for it (pg_stat_database), read and subtracted.

    before = read_pg_stat(url); ...; after = read_pg_stat(url)
    done = after - before        # transactions committed, rows inserted / updated / deleted in between

Each reading opens a connection of its own (a session caches its statistics snapshot until its transaction
ends) and is one transaction itself. PostgreSQL's backends report their counters at their transactions' ends,
at most once a second, and an idle one within ~10 s: a window of a minute or more is what these deltas suit.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import create_engine, text
from sqlalchemy.pool import NullPool

QUERY = text("SELECT xact_commit, xact_rollback, tup_inserted, tup_updated, tup_deleted FROM pg_stat_database "
             "WHERE datname = current_database()")


@dataclass(frozen=True)
class PgStat:
    commits: int
    rollbacks: int
    inserted: int
    updated: int
    deleted: int

    @property
    def rows_written(self) -> int:
        return self.inserted + self.updated + self.deleted

    def __sub__(self, earlier: PgStat) -> PgStat:
        return PgStat(self.commits - earlier.commits, self.rollbacks - earlier.rollbacks,
                      self.inserted - earlier.inserted, self.updated - earlier.updated, self.deleted - earlier.deleted)


def read_pg_stat(url: str) -> PgStat:
    """The counters of `url`'s database now (a SQLAlchemy PostgreSQL URL, as the store's)."""
    engine = create_engine(url, poolclass=NullPool)
    try:
        with engine.connect() as connection:
            row = connection.execute(QUERY).one()
    finally:
        engine.dispose()
    return PgStat(*(int(value) for value in row))
