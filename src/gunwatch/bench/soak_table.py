"""The table and the plot of `gunwatch bench soak` (bench/soak.py)."""

from __future__ import annotations

import math
from pathlib import Path

from gunwatch.bench.soak import CLIP, DETECT_FPS, GUN_S, MAX_GROWTH_PERCENT, SoakResult
from gunwatch.bench.soak_samples import QUEUES, after


def _ms(seconds: float) -> str:
    return "-" if math.isnan(seconds) else f"{1000 * seconds:.0f}"


def format_soak_table(result: SoakResult) -> str:
    header = (f"{'camera':<8} {'clip':<5} {'frames in':>9} {'analysed':>8} {'dropped':>8} {'reconn':>6} "
              f"{'episodes':>8} {'alarmed':>7} {'false':>5} {'p50 ms':>7} {'p95 ms':>7}")
    lines = [header, "-" * len(header)]
    for row in result.cameras:
        episodes = f"{row.episodes}" if row.kind == "gun" else "-"
        alarmed = f"{row.alarmed}" if row.kind == "gun" else "-"
        lines.append(f"{row.name:<8} {row.kind:<5} {row.frames_in:>9} {row.analysed:>8} {row.dropped:>8} "
                     f"{row.reconnects:>6} {episodes:>8} {alarmed:>7} {row.false_alarms:>5} "
                     f"{_ms(row.latency.p50):>7} {_ms(row.latency.p95):>7}")
    settled = after(result.samples, result.warmup_s)
    rss = [sample.rss_mib for sample in settled]
    check = "pass" if result.passed else "FAIL"
    lines += [
        "",
        f"{'criterion':<34} {'measured':<40} {'limit':<22}",
        f"{'memory growth after warm-up':<34} "
        f"{f'{result.memory_growth_percent:+.1f} % ({min(rss, default=0):.0f}-{max(rss, default=0):.0f} MiB)':<40} "
        f"{f'< {MAX_GROWTH_PERCENT:g} %':<22}",
    ]
    for name in QUEUES:
        t = result.queues[name]
        depth = max((sample.queues.get(name, 0) for sample in settled), default=0)
        lines.append(f"{'queue ' + name:<34} {f'max {depth}, trend z {t.z:+.1f}, rise {t.rise:+.1f}':<40} "
                     f"{'no growing trend':<22}{'  GROWS' if t.grows else ''}")
    alarmed = f"{result.alarmed}/{result.episodes}, p50 {_ms(result.latency.p50)} ms, p95 {_ms(result.latency.p95)} ms"
    lines += [
        f"{'gun episodes alarmed':<34} {alarmed:<40} {'every one':<22}",
        f"{'false alarms':<34} {result.false_alarms:<40} {'(reported)':<22}",
        f"{'health changes / outbox at the end':<34} {f'{result.health_changes} / {result.deliveries}':<40}",
        f"soak {check}: {result.settings.cameras} RTSP cameras ({sum(c.kind == 'gun' for c in result.cameras)} "
        f"looping a gun clip, one {GUN_S:g} s episode per {result.settings.episode_every_s:g} s pass) "
        f"{CLIP.width}x{CLIP.height} at {CLIP.fps:g} fps, analysed at {DETECT_FPS:g} fps, gating on, SQLite, "
        f"alerts to a file; {result.seconds / 60:.1f} min, {len(result.samples)} samples, warm-up "
        f"{result.warmup_s / 60:.1f} min; latency = an episode's first gun frame to its event committed",
    ]
    lines += [f"  - {failure}" for failure in result.failures]
    return "\n".join(line.rstrip() for line in lines)


def plot_soak(result: SoakResult, path: Path) -> Path:
    """Resident memory and queue depths over the run, the warm-up shaded."""
    import matplotlib

    matplotlib.use("Agg")  # headless
    import matplotlib.pyplot as plt

    minutes = [sample.at_s / 60 for sample in result.samples]
    figure, (memory, queues) = plt.subplots(2, 1, sharex=True, figsize=(9, 6))
    try:
        memory.plot(minutes, [sample.rss_mib for sample in result.samples], marker=".", color="tab:blue")
        memory.set_ylabel("resident memory, MiB")
        memory.set_title(f"gunwatch bench soak: {result.settings.cameras} cameras, "
                         f"{'passed' if result.passed else 'FAILED'}")
        for name in QUEUES:
            queues.plot(minutes, [sample.queues.get(name, 0) for sample in result.samples], marker=".", label=name)
        queues.set_ylabel("items waiting")
        queues.set_xlabel("minutes since start")
        queues.legend(loc="upper left")
        for axes in (memory, queues):
            axes.axvspan(0, result.warmup_s / 60, color="0.9", label="warm-up")
            axes.grid(alpha=0.3)
        path.parent.mkdir(parents=True, exist_ok=True)
        figure.savefig(path, dpi=100, bbox_inches="tight")
    finally:
        plt.close(figure)  # pyplot keeps open figures alive
    return path
