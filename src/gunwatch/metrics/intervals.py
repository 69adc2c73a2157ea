"""Exact 95 % intervals for counts: a share of trials (episodes alarmed, images flagged) and a rate of events
over exposure (false alarms per camera-hour).

The test split's 150 gun-free images and a few minutes of gun-free footage are small samples: "no false alarm
in 8.8 minutes" is also what a camera alarming 20 times an hour would often show. These say how far the truth
may lie from what was counted, so a number is read with its uncertainty, never alone.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from scipy.stats import beta, chi2

CONFIDENCE = 0.95


def _check(confidence: float) -> float:
    if not 0 < confidence < 1:
        raise ValueError(f"confidence must lie between 0 and 1, got {confidence}")
    return (1 - confidence) / 2


def proportion_interval(successes: int, trials: int, confidence: float = CONFIDENCE) -> tuple[float, float]:
    """Clopper-Pearson's exact interval for a share of ``successes`` in ``trials``: never narrower than the
    truth allows, even at 0 of 7 or 7 of 7, where the normal approximation breaks down. NaN without trials."""
    tail = _check(confidence)
    if trials < 0 or not 0 <= successes <= trials:
        raise ValueError(f"need 0 <= successes <= trials, got {successes} of {trials}")
    if trials == 0:
        return math.nan, math.nan
    low = 0.0 if successes == 0 else float(beta.ppf(tail, successes, trials - successes + 1))
    high = 1.0 if successes == trials else float(beta.ppf(1 - tail, successes + 1, trials - successes))
    return low, high


def rate_interval(events: int, exposure: float, confidence: float = CONFIDENCE) -> tuple[float, float]:
    """Garwood's exact interval for a Poisson rate: ``events`` seen in ``exposure`` (e.g. camera-hours), per
    unit of exposure. Zero events still bound the rate from above. NaN without exposure."""
    tail = _check(confidence)
    if events < 0:
        raise ValueError(f"events must be >= 0, got {events}")
    if exposure <= 0:
        return math.nan, math.nan
    low = 0.0 if events == 0 else float(chi2.ppf(tail, 2 * events)) / 2
    high = float(chi2.ppf(1 - tail, 2 * events + 2)) / 2
    return low / exposure, high / exposure


def exposure_to_show(rate: float, confidence: float = CONFIDENCE) -> float:
    """The exposure without a single event after which ``rate_interval``'s upper end reaches ``rate``: how much
    gun-free footage must pass without a false alarm to show, at this confidence, that a setting stays at or
    under ``rate`` (about 37 camera-hours for 0.1 per camera-hour at 95 %)."""
    if rate <= 0:
        raise ValueError(f"rate must be > 0, got {rate}")
    return rate_interval(0, 1.0, confidence)[1] / rate


def interval_text(interval: Sequence[float | None], missing: str = "n/a") -> str:
    """"low-high" at three decimals, as the reports print an interval; ``missing`` where an end is undefined
    (None in a JSON report, NaN in a table)."""
    low, high = interval
    if low is None or high is None or math.isnan(low) or math.isnan(high):
        return missing
    return f"{low:.3f}-{high:.3f}"
