"""The table of `gunwatch bench isolation`, in the style of `gunwatch bench pipeline`'s (bench/pipeline_table.py)."""

from __future__ import annotations

import math

from gunwatch.bench.isolation import DETECT_FPS, HD, IsolationBench


def format_isolation_table(bench: IsolationBench) -> str:
    alone = bench.alone
    header = (f"{'cheap camera':<32} {'analysed':>8} {'/ alone':>7} {'events':>6} {'p50 ms':>7} {'p95 ms':>7} "
              f"{'/ alone':>7} {'other: analysed':>15} {'infer ms':>8}")
    lines = [header, "-" * len(header)]
    for row in (bench.alone, bench.beside):
        other = (f"{row.other_analysed:>15} {row.other_infer_ms:>8.0f}" if row.other_analysed is not None
                 else f"{'-':>15} {'-':>8}")
        lines.append(
            f"{row.case:<32} {row.analysed:>8} {_ratio(row.analysed, alone.analysed):>7} {row.events:>6} "
            f"{1000 * row.latency.p50:>7.0f} {1000 * row.latency.p95:>7.0f} "
            f"{_ratio(row.latency.p95, alone.latency.p95):>7} {other}"
        )
    lines.append(
        f"detector {bench.detector}; the cheap camera loops {bench.clip.name} at {DETECT_FPS:g} fps analysed, "
        f"motion gating off, tiles and "
        f"second look off; {bench.settings.seconds:g} s per run from the service's start; latency = a frame's "
        f"arrival to its detections back; the other camera loops a {HD.width}x{HD.height} scene, tiles on, gating "
        f"off (infer ms: its detector time per frame); / alone = against the cheap camera alone, measured in the "
        f"same run; issue 12 measured 101 analysed and 1 event alone, 56 and none beside, before the cameras were "
        f"isolated"
    )
    return "\n".join(lines)


def _ratio(value: float, reference: float) -> str:
    return f"{value / reference:.2f}" if reference and not math.isnan(reference) and not math.isnan(value) else "-"
