"""The speed benchmark: every model at 1 thread and all cores, as a ratio to a reference timed in the same run."""

from __future__ import annotations

import json
import os
from pathlib import Path

from typer.testing import CliRunner

from gunwatch.bench.speed import format_speed_table, speed_table
from gunwatch.cli import app
from gunwatch.inference.loading import SHIPPED_MODEL

THREAD_COUNTS = sorted({1, os.cpu_count() or 1})


def test_table_has_every_model_at_every_thread_count(tiny_localizer_onnx: Path) -> None:
    rows = speed_table([SHIPPED_MODEL], reference=tiny_localizer_onnx, runs=3)
    assert [(row.model, row.threads) for row in rows] == [
        (name, threads) for threads in THREAD_COUNTS for name in (tiny_localizer_onnx.stem, SHIPPED_MODEL.stem)
    ]
    for row in rows:
        assert 0 < row.ms_p50 <= row.ms_p95
        if row.model == tiny_localizer_onnx.stem:
            assert row.ratio_to_reference == 1.0
    assert rows[1].input_shape == (1, 3, 224, 224)
    table = format_speed_table(rows, "tiny")
    assert "x tiny" in table.splitlines()[0]
    assert len(table.splitlines()) == 2 + len(rows)


def test_cli_prints_the_table_and_json(tiny_localizer_onnx: Path) -> None:
    result = CliRunner().invoke(
        app, ["bench", "--model", str(SHIPPED_MODEL), "--reference", str(tiny_localizer_onnx), "--runs", "2", "--json"]
    )
    assert result.exit_code == 0, result.stderr
    rows = json.loads(result.stdout)
    assert len(rows) == 2 * len(THREAD_COUNTS)
    assert set(rows[0]) == {"model", "input_shape", "threads", "ms_p50", "ms_p95", "ratio_to_reference"}
    assert "gunwatch-localizer" in result.stderr


def test_missing_reference_is_a_clear_error(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["bench", "--reference", str(tmp_path / "none.onnx")])
    assert result.exit_code == 2
    assert f"{tmp_path / 'none.onnx'}: model file not found" in result.stderr
