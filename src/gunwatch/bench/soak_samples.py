"""What `gunwatch bench soak` samples while the pipeline runs, and the two verdicts drawn from the samples.

- memory growth: the process's resident memory at the end of the run against its start, both after the
  warm-up, each the median of a fifth of the samples (one sample is noise: the allocator, a clip encoding);
- a growing queue: the Mann-Kendall trend test (does the depth rise with time more often than chance allows,
  ties allowed: a queue is mostly 0) on the samples after the warm-up, and a least-squares rise over that
  window of at least one item. A single end value would call a queue caught at a busy moment growing.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass, field

import numpy as np

PAGE_SIZE = os.sysconf("SC_PAGE_SIZE")
TREND_Z = 2.326  # one-sided 1 % level of the Mann-Kendall statistic
MIN_RISE = 1.0  # items over the window: a significant trend of less than one item is no growth
QUEUES = ("detector", "store_writer", "evidence_writer", "outbox")


def rss_mib() -> float:
    """This process's resident set, MiB (/proc/self/statm: no dependency, Linux only, as gunwatch is)."""
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * PAGE_SIZE / 2**20


@dataclass(frozen=True)
class CameraSample:
    frames_in: int
    analysed: int
    dropped: int
    state: str


@dataclass(frozen=True)
class Sample:
    at_s: float  # since the pipeline started
    rss_mib: float
    queues: dict[str, int]  # QUEUES: items waiting
    cameras: dict[str, CameraSample] = field(default_factory=dict)
    events: int = 0  # events opened so far


@dataclass(frozen=True)
class Trend:
    z: float  # Mann-Kendall statistic, normalised (> TREND_Z: rising)
    rise: float  # least-squares slope times the window: items gained over it

    @property
    def grows(self) -> bool:
        return self.z > TREND_Z and self.rise >= MIN_RISE


def mann_kendall_z(values: list[float]) -> float:
    """The normalised Mann-Kendall S (tie-corrected variance, continuity correction); 0 when every value ties."""
    x = np.asarray(values, dtype=float)
    n = len(x)
    if n < 3:
        return 0.0
    s = float(np.sign(x[None, :] - x[:, None])[np.triu_indices(n, 1)].sum())
    _, ties = np.unique(x, return_counts=True)
    variance = (n * (n - 1) * (2 * n + 5) - float((ties * (ties - 1) * (2 * ties + 5)).sum())) / 18
    if variance <= 0 or s == 0:
        return 0.0
    return (s - math.copysign(1, s)) / math.sqrt(variance)


def trend(times: list[float], values: list[float]) -> Trend:
    if len(values) < 3 or times[-1] <= times[0]:
        return Trend(0.0, 0.0)
    slope = float(np.polyfit(times, values, 1)[0])
    return Trend(mann_kendall_z(values), slope * (times[-1] - times[0]))


def growth_percent(values: list[float]) -> float:
    """The median of the last fifth against the median of the first fifth, in per cent (nan: no samples)."""
    if not values:
        return math.nan
    k = max(1, len(values) // 5)
    first, last = float(np.median(values[:k])), float(np.median(values[-k:]))
    return 100 * (last - first) / first if first else math.nan


def after(samples: list[Sample], warmup_s: float) -> list[Sample]:
    return [sample for sample in samples if sample.at_s >= warmup_s]


def queue_trends(samples: list[Sample]) -> dict[str, Trend]:
    times = [sample.at_s for sample in samples]
    return {name: trend(times, [float(sample.queues.get(name, 0)) for sample in samples]) for name in QUEUES}
