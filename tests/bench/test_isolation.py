"""`gunwatch bench isolation`: its table and command on constructed numbers (fast), and one short real run."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from gunwatch.bench import isolation
from gunwatch.bench.isolation import IsolationBench, IsolationRow, IsolationSettings, default_clip
from gunwatch.bench.isolation_table import format_isolation_table
from gunwatch.bench.pipeline_latency import Spread
from gunwatch.cli import app


def made_up_bench() -> IsolationBench:
    alone = IsolationRow("alone", 20.0, 100, 1, Spread(0.08, 0.1, 0.12))
    beside = IsolationRow("beside a 1080p camera, tiles on", 20.0, 90, 1, Spread(0.1, 0.25, 0.3), 40, 380.0)
    return IsolationBench(IsolationSettings(20.0), Path("range.mp4"), alone, beside, "gunwatch-nano+verifier")


def test_the_table_compares_the_cheap_camera_beside_the_expensive_one_with_it_alone() -> None:
    lines = format_isolation_table(made_up_bench()).splitlines()
    assert lines[0].split()[:4] == ["cheap", "camera", "analysed", "/"]
    assert lines[2].split() == ["alone", "100", "1.00", "1", "80", "100", "1.00", "-", "-"]
    assert lines[3].split()[-8:] == ["90", "0.90", "1", "100", "250", "2.50", "40", "380"]
    assert "loops range.mp4 at 5 fps" in lines[4] and "20 s per run" in lines[4]
    assert lines[4].startswith("detector gunwatch-nano+verifier;")


def test_the_command_prints_the_table_and_json(monkeypatch: pytest.MonkeyPatch) -> None:
    asked: list[IsolationSettings] = []

    def fake_run(settings: IsolationSettings, progress: object) -> IsolationBench:
        asked.append(settings)
        return made_up_bench()

    monkeypatch.setattr(isolation, "run_isolation_bench", fake_run)
    result = CliRunner().invoke(app, ["bench", "isolation", "--seconds", "5", "--json"])
    assert result.exit_code == 0, result.stderr
    assert asked[0].seconds == 5 and asked[0].clip is None
    assert "beside a 1080p camera, tiles on" in result.stderr
    data = json.loads(result.stdout)
    assert data["beside"]["analysed"] == 90 and data["alone"]["latency"]["p95"] == pytest.approx(0.1)


def test_a_missing_clip_is_refused_by_name(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["bench", "isolation", "--clip", str(tmp_path / "nope.mp4")])
    assert result.exit_code == 2 and "nope.mp4: no such clip" in result.stderr
    with pytest.raises(ValueError, match="seconds"):
        IsolationSettings(seconds=0)


def test_without_the_shared_clips_the_repositorys_sample_is_used(monkeypatch: pytest.MonkeyPatch,
                                                                  tmp_path: Path) -> None:
    monkeypatch.setattr(isolation, "SHARED_CLIP", tmp_path / "absent.mp4")
    assert default_clip() == isolation.SAMPLE_CLIP and isolation.SAMPLE_CLIP.is_file()


@pytest.mark.slow
def test_a_short_real_run_measures_both_cases() -> None:
    bench = isolation.run_isolation_bench(IsolationSettings(seconds=3, clip=isolation.SAMPLE_CLIP, threads=1))
    for row in (bench.alone, bench.beside):
        assert row.analysed > 0 and row.latency.p50 <= row.latency.p95
    assert bench.alone.other_analysed is None and bench.beside.other_analysed is not None
    assert "beside a 1080p camera" in format_isolation_table(bench)
    assert bench.detector == "gunwatch-nano+verifier"  # as `gunwatch watch` runs by default
