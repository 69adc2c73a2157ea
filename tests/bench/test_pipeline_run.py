"""A tiny pipeline benchmark with the real parts: one camera, a few seconds, the shipped model."""

from __future__ import annotations

import json
import math

import pytest

from gunwatch.bench.pipeline import PipelineBenchSettings, run_pipeline_bench
from gunwatch.bench.pipeline_clips import ClipFormat
from gunwatch.bench.pipeline_latency import EPS
from gunwatch.bench.pipeline_table import format_capacity_table, format_latency_table
from gunwatch.video.sources.pacing import CATCH_UP_LIMIT_S


@pytest.mark.slow
def test_a_tiny_run_measures_latency_and_capacity() -> None:
    # 640x360 rather than 720p: the clips encode in a second and the frames are not tiled.
    settings = PipelineBenchSettings(cameras=(1,), seconds=2, samples=2, latency_cameras=1,
                                     clip=ClipFormat(640, 360, 15), warmup_s=1.5, threads=1)
    messages: list[str] = []
    bench = run_pipeline_bench(settings, messages.append)

    latency = bench.latency
    assert len(latency.samples) >= 2 and latency.missed == 0
    for sample in latency.samples:
        # Both parts are differences of times in the order they happen (onset <= first hit <= confirming
        # frame <= commit, EPS for timestamps in floating point); how long they take is the bench's to print.
        assert -EPS <= sample.confirmation_s < math.inf and 0 <= sample.processing_s < math.inf
    assert latency.total.p50 <= latency.total.p95 <= latency.total.max
    assert bench.detector == "gunwatch-nano+verifier"  # as `gunwatch watch` runs by default

    assert [(row.cameras, row.gating) for row in bench.capacity] == [(1, True), (1, False)]
    for row in bench.capacity:
        # Sampled on schedule: at most 2 samples over the asked rate in any window (next_sample_due), however
        # slow the machine. Decoded at the clip's pace: 15 fps, and at most the pacer's catch-up second more.
        assert 0 < row.sampled_fps_min <= row.target_fps + 2 / row.seconds
        assert 0 < row.decoded_fps <= (15 * (row.seconds + CATCH_UP_LIMIT_S) + 1) / row.seconds
        assert 0 <= row.inference_share <= 1 and row.cpu_percent > 0
    assert bench.capacity[1].inference_share == 1.0  # without gating every sampled frame is analysed

    assert "latency" in format_latency_table(bench) and "keeps up" in format_capacity_table(bench)
    json.dumps(bench.to_json_dict())
    assert any(message.startswith("latency") for message in messages)
