"""`gunwatch bench store` on both backends: every kind of write runs through the product's own calls, and the
table puts each beside the SELECT 1 reference measured with as many writers. Counts, never speeds."""

from __future__ import annotations

import time

import pytest

from gunwatch.bench.store_writes import KINDS, StoreBenchSettings, format_store_table, run_store_bench
from gunwatch.events.store import EventStore
from gunwatch.events.store.leases import CameraLeases


def test_every_write_kind_is_measured_with_each_number_of_writers(store_url: str) -> None:
    bench = run_store_bench(StoreBenchSettings(store_url, threads=(1, 2), seconds=0.3, cameras=6))
    assert [(row.kind, row.threads) for row in bench.rows] == [(kind, n) for kind in KINDS for n in (1, 2)]
    assert all(row.operations > 0 and row.p95_ms >= row.p50_ms > 0 for row in bench.rows), bench.rows
    table = format_store_table(bench)
    assert table.count("\n") == len(bench.rows) + 2 and "fenced event version" in table
    with EventStore(store_url) as store:  # the writes landed, and the bench gave its leases back
        events = store.list_events(limit=10)
        assert len(events) == 6 and {event.state for event in events} == {"updated"}
        now = time.time()
        assert len(CameraLeases(store).all()) == 6
        assert all(lease.expires_at <= now for lease in CameraLeases(store).all())  # released: expired at once


def test_more_writers_than_the_pool_holds_are_refused_naming_the_limit() -> None:
    with pytest.raises(ValueError, match="1 to 15"):
        StoreBenchSettings("sqlite://", threads=(1, 16))


def test_the_command_prints_the_table_and_json_and_names_a_bad_writers_list() -> None:
    import json

    from typer.testing import CliRunner

    from gunwatch.cli import app

    result = CliRunner().invoke(app, ["bench", "store", "--seconds", "0.2", "--writers", "1", "--cameras", "2",
                                      "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert report["backend"] == "sqlite" and [row["kind"] for row in report["rows"]] == list(KINDS)
    refused = CliRunner().invoke(app, ["bench", "store", "--writers", "1,many"])
    assert refused.exit_code != 0 and "--writers" in refused.output
