"""PostgreSQL's counters of the store's database, on a real server."""

from __future__ import annotations

from sqlalchemy import create_engine, text
from sqlalchemy.pool import NullPool

from gunwatch.bench.pg_stat import PgStat, read_pg_stat
from support.waiting import wait_until


def test_pg_stat_deltas_subtract_every_counter() -> None:
    later, earlier = PgStat(10, 1, 7, 5, 2), PgStat(4, 1, 2, 1, 0)
    assert later - earlier == PgStat(6, 0, 5, 4, 2)
    assert (later - earlier).rows_written == 11


def test_writes_to_the_database_show_in_its_counters(postgres_url: str) -> None:
    before = read_pg_stat(postgres_url)
    engine = create_engine(postgres_url, poolclass=NullPool)
    try:
        with engine.begin() as connection:
            connection.execute(text("CREATE TABLE t (x int)"))
        with engine.begin() as connection:
            connection.execute(text("INSERT INTO t SELECT generate_series(1, 5)"))
        with engine.begin() as connection:
            connection.execute(text("UPDATE t SET x = x + 1 WHERE x <= 2"))
            connection.execute(text("DELETE FROM t WHERE x = 5"))
    finally:
        engine.dispose()
    # A backend reports its counters when its session ends (or within a second): wait for them.
    done = [PgStat(0, 0, 0, 0, 0)]

    def counted() -> bool:
        done[0] = read_pg_stat(postgres_url) - before
        return done[0].inserted >= 5 and done[0].updated >= 2 and done[0].deleted >= 1

    assert wait_until(counted, timeout=30), done[0]
    assert done[0].commits >= 3
