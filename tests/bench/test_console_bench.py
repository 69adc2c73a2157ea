"""`gunwatch bench console` in a real browser, tiny: the banner's latency is measured both ways and tabled
(how long it takes is what the benchmark reports, never a bound here)."""

from __future__ import annotations

import math
from typing import Any

from gunwatch.bench.console import BannerLatency, ConsoleBench, WallCost, console_table, run_console_bench
from gunwatch.bench.pipeline_latency import Spread


def test_every_alert_is_seen_drawn_both_ways(browser: Any) -> None:
    result = run_console_bench(events=2, cameras=0, progress=lambda _: None, browser=browser)
    assert [row.mode for row in result.latency] == ["woken", "polled"]
    for row in result.latency:
        assert row.events == 2 and math.isfinite(row.spread.p50) and row.spread.max >= row.spread.p50
    assert result.wall is None


def test_the_table_compares_the_wall_with_its_reference() -> None:
    bench = ConsoleBench([BannerLatency("woken", 10, Spread(0.05, 0.1, 0.12))],
                         WallCost(16, 30.0, 1.5, 1.8, 1000, 900, 480, 0.05))
    table = console_table(bench)
    assert "| woken | 10 | 50 ms | 100 ms | 120 ms |" in table
    assert "| 16 cameras, wall open | 1.80 (1.20x) | 900 (0.90x) | 480 | 0.050 |" in table
