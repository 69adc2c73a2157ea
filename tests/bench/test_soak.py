"""`gunwatch bench soak`: the verdicts on constructed samples (fast), and one short real run through the command."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
from typer.testing import CliRunner

from gunwatch.bench.pipeline_latency import Spread
from gunwatch.bench.rtsp_server import gst_rtsp_missing
from gunwatch.bench.soak import SoakCamera, SoakResult, SoakSettings
from gunwatch.bench.soak_samples import QUEUES, Sample, growth_percent, mann_kendall_z, queue_trends, trend
from gunwatch.bench.soak_table import format_soak_table, plot_soak
from gunwatch.cli import app


def samples(rss: list[float], outbox: list[int]) -> list[Sample]:
    return [Sample(60.0 * i, memory, {"detector": 0, "store_writer": 0, "evidence_writer": 0, "outbox": waiting})
            for i, (memory, waiting) in enumerate(zip(rss, outbox, strict=True))]


def test_a_queue_that_keeps_rising_grows_one_busy_at_the_end_does_not() -> None:
    times = [float(t) for t in range(30)]
    assert trend(times, [t // 3 for t in times]).grows  # +1 every 3 samples
    busy_at_the_end = [0.0] * 29 + [40.0]  # one sample caught at a busy moment: a single end value would say grows
    assert not trend(times, busy_at_the_end).grows
    spikes = [5.0 if t % 4 == 0 else 0.0 for t in times]  # busy now and then, never more so
    assert not trend(times, spikes).grows
    assert mann_kendall_z([0.0] * 30) == 0.0
    assert mann_kendall_z(times) > 5 and mann_kendall_z(times[::-1]) < -5
    # A significant trend under one item over the whole window is not growth.
    assert not trend(times, [0.01 * t for t in times]).grows


def test_memory_growth_compares_the_last_fifth_with_the_first() -> None:
    assert growth_percent([100.0] * 10) == 0.0
    assert growth_percent([100.0, 100, 250, 100, 100, 100, 100, 100, 106, 106]) == pytest.approx(6.0)
    assert math.isnan(growth_percent([]))


def result_of(rss: list[float], outbox: list[int], alarmed: int = 2) -> SoakResult:
    settings = SoakSettings(seconds=60.0 * (len(rss) - 1), cameras=2)
    taken = samples(rss, outbox)
    settled = [s for s in taken if s.at_s >= settings.warmup_s]
    cameras = [SoakCamera("gun01", "gun", 900, 300, 600, 0, 0, 2, alarmed, 0, Spread(0.6, 0.8, 0.9)),
               SoakCamera("quiet01", "quiet", 900, 40, 600, 0, 0, 0, 0, 1, Spread.of([]))]
    return SoakResult(settings, settings.seconds, taken, cameras, growth_percent([s.rss_mib for s in settled]),
                      queue_trends(settled), Spread(0.6, 0.8, 0.9), 2, {"delivered": 3})


def test_a_soak_passes_only_when_memory_queues_and_alarms_all_pass(tmp_path: Path) -> None:
    flat = [300.0] * 20
    good = result_of([200.0, *flat], [0] * 21)
    assert good.passed and good.failures == []
    assert not result_of([200.0, *[300.0 + 2 * i for i in range(20)]], [0] * 21).passed  # +~13 %
    rising = result_of([200.0, *flat], [0, *range(20)])
    assert rising.failures == [f"queue outbox grows (trend z {rising.queues['outbox'].z:.1f}, "
                               f"+{rising.queues['outbox'].rise:.1f} items)"]
    assert result_of([200.0, *flat], [0] * 21, alarmed=1).failures == ["1 of 2 gun episodes raised no event"]

    table = format_soak_table(good)
    assert "memory growth after warm-up" in table and "+0.0 %" in table and "soak pass" in table
    assert [line.split()[:8] for line in table.splitlines() if line.startswith("gun01")] == [
        ["gun01", "gun", "900", "300", "600", "0", "2", "2"]]
    assert all(f"queue {name}" in table for name in QUEUES)
    assert "GROWS" in format_soak_table(rising) and "soak FAIL" in format_soak_table(rising)
    assert plot_soak(good, tmp_path / "soak.png").stat().st_size > 0
    json.dumps(good.to_json_dict())


def test_settings_refuse_a_soak_that_cannot_judge() -> None:
    with pytest.raises(ValueError, match="at least 2 cameras"):
        SoakSettings(seconds=60, cameras=1)
    with pytest.raises(ValueError, match="at least 20 s"):
        SoakSettings(seconds=5)
    hour = SoakSettings(seconds=3600)
    assert (hour.warmup_s, hour.sample_every_s, hour.episode_every_s, hour.gun_cameras) == (300, 60, 60, 4)


@pytest.mark.slow
def test_a_short_soak_through_the_command(tmp_path: Path) -> None:
    """Two RTSP cameras for 40 s with the shipped model: the command's report, plot and exit code agree. Nothing
    here depends on the machine's speed beyond the gun episode alarming at all."""
    missing = gst_rtsp_missing()
    if missing:
        pytest.skip(f"needs GStreamer's RTSP server ({missing})")
    result = CliRunner().invoke(app, ["bench", "soak", "--seconds", "40", "--cameras", "2", "--out",
                                      str(tmp_path), "--json"])
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert result.exit_code == (0 if report["passed"] else 1), result.output
    assert [(c["name"], c["kind"]) for c in report["cameras"]] == [("gun01", "gun"), ("quiet01", "quiet")]
    gun = report["cameras"][0]
    assert gun["frames_in"] > 0 and gun["analysed"] > 0 and gun["reconnects"] == 0
    assert gun["episodes"] >= 1 and gun["alarmed"] == gun["episodes"], report
    assert len(report["samples"]) >= 3 and set(report["queues"]) == set(QUEUES)
    assert report["deliveries"].get("delivered", 0) >= 1  # each event notified the file channel
    assert (tmp_path / "soak.png").stat().st_size > 0 and json.loads((tmp_path / "report.json").read_text())
    assert "gun episodes alarmed" in result.stderr
