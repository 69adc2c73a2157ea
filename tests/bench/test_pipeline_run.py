"""A tiny pipeline benchmark with the real parts: one camera, a few seconds, the shipped model."""

from __future__ import annotations

import json
import math

import pytest

from gunwatch.bench.pipeline import PipelineBenchSettings, run_pipeline_bench
from gunwatch.bench.pipeline_clips import ClipFormat
from gunwatch.bench.pipeline_latency import EPS
from gunwatch.bench.pipeline_table import format_capacity_table, format_latency_table


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
        assert 0 < row.sampled_fps_min <= 5.5 and 0 < row.decoded_fps < 17  # paced at the clip's 15 fps
        assert 0 <= row.inference_share <= 1 and row.cpu_percent > 0
    assert bench.capacity[1].inference_share == 1.0  # without gating every sampled frame is analysed

    assert "latency" in format_latency_table(bench) and "keeps up" in format_capacity_table(bench)
    json.dumps(bench.to_json_dict())
    assert any(message.startswith("latency") for message in messages)
