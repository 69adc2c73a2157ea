"""Inference speed of ONNX models on this machine, against a reference model timed in the same run.

Each model runs on a fixed random input of its own shape (batch 1), so the numbers compare the networks
and ONNX Runtime only; image decoding and resizing are measured by `gunwatch eval` (ms_per_image).
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from gunwatch.inference.onnx_session import open_session

WARMUP_RUNS = 5


@dataclass(frozen=True)
class SpeedRow:
    model: str
    input_shape: tuple[int, ...]
    threads: int
    ms_p50: float
    ms_p95: float
    ratio_to_reference: float  # p50 over the reference's p50 at the same thread count


def time_model(path: Path, threads: int, runs: int) -> tuple[tuple[int, ...], np.ndarray]:
    """(input shape, per-run milliseconds) of one model at one thread count."""
    session = open_session(path, threads)
    first = session.get_inputs()[0]
    # Dynamic axes (e.g. the batch) are strings in the declared shape: run them at 1.
    shape = tuple(d if isinstance(d, int) else 1 for d in first.shape)
    feed = {first.name: np.random.default_rng(0).random(shape, dtype=np.float32)}
    for _ in range(WARMUP_RUNS):
        session.run(None, feed)
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        session.run(None, feed)
        times.append(1000 * (time.perf_counter() - start))
    return shape, np.array(times)


def speed_table(models: list[Path], reference: Path, runs: int = 50) -> list[SpeedRow]:
    """Every model at 1 thread and at all cores; the reference is timed at each thread count too."""
    rows = []
    for threads in sorted({1, os.cpu_count() or 1}):
        timed = {path: time_model(path, threads, runs) for path in [reference, *models]}
        reference_p50 = float(np.median(timed[reference][1]))
        for path, (shape, ms) in timed.items():
            p50 = float(np.median(ms))
            rows.append(SpeedRow(path.stem, shape, threads, p50, float(np.percentile(ms, 95)), p50 / reference_p50))
    return rows


def format_speed_table(rows: list[SpeedRow], reference: str) -> str:
    header = f"{'model':<28} {'input':<18} {'threads':>7} {'ms p50':>8} {'ms p95':>8} {'x ' + reference:>24}"
    lines = [header, "-" * len(header)]
    for row in rows:
        shape = "x".join(map(str, row.input_shape))
        lines.append(
            f"{row.model:<28} {shape:<18} {row.threads:>7} {row.ms_p50:>8.2f} {row.ms_p95:>8.2f} "
            f"{row.ratio_to_reference:>24.2f}"
        )
    return "\n".join(lines)
