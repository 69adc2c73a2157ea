"""What the alarm benchmark's counts can and cannot show: exact 95 % intervals on its totals.

Seven gun episodes and nine minutes of gun-free footage are a start: "7 of 7 alarmed" is also what a
setting that misses one episode in three would often show, and "no false alarm in 8.8 minutes" what one
alarming 25 times an hour would. The intervals say so beside every total, and the footage that would settle
the false-alarm target is named in hours.

A clip played at several sampling phases is the same footage several times: its plays are not more
evidence. The intervals count each clip once: the footage's own length, its episodes once, and the mean
count per play rounded against the claim (alarmed episodes down, false alarms up).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from gunwatch.bench.alarm_matching import AlarmTally
from gunwatch.metrics.bootstrap import Interval
from gunwatch.metrics.intervals import CONFIDENCE, exposure_to_show, proportion_interval, rate_interval


@dataclass(frozen=True)
class AlarmIntervals:
    episodes: int  # distinct episodes of >= 2 s
    alarmed: int  # of those, alarmed (or covered) per play on average, rounded down
    alarmed_share: tuple[float, float]  # 95 % interval of the share alarmed
    gun_free_hours: float  # distinct gun-free footage
    false_gun_free: int  # false alarms there per play, rounded up
    false_per_hour: tuple[float, float]  # 95 % interval, per camera-hour
    hours_to_show: float  # gun-free hours without a false alarm that would show the target
    target_per_hour: float

    def to_json_dict(self) -> dict[str, object]:
        return {"confidence": CONFIDENCE, "episodes": self.episodes, "alarmed": self.alarmed,
                "alarmed_share": Interval(*self.alarmed_share).as_list(),
                "gun_free_hours": round(self.gun_free_hours, 4), "false_gun_free": self.false_gun_free,
                "false_per_hour": Interval(*self.false_per_hour).as_list(),
                "hours_to_show_target": round(self.hours_to_show, 2), "target_per_hour": self.target_per_hour}


def alarm_intervals(total: AlarmTally, phases: int, target_per_hour: float) -> AlarmIntervals:
    """The intervals of a setting's totals over ``phases`` plays of each clip."""
    if phases < 1:
        raise ValueError(f"phases must be >= 1, got {phases}")
    episodes = total.episodes // phases
    alarmed = min(episodes, (total.alarmed + total.covered) // phases)
    hours = total.gun_free_s / 3600 / phases
    false = math.ceil(total.false_gun_free / phases)
    return AlarmIntervals(
        episodes=episodes,
        alarmed=alarmed,
        alarmed_share=proportion_interval(alarmed, episodes),
        gun_free_hours=hours,
        false_gun_free=false,
        false_per_hour=rate_interval(false, hours),
        hours_to_show=exposure_to_show(target_per_hour),
        target_per_hour=target_per_hour,
    )


def describe(intervals: AlarmIntervals) -> str:
    """One line for the tables: what the totals allow at 95 %, and the footage the target needs."""
    share = intervals.alarmed_share
    episodes = ("no episodes" if not intervals.episodes else
                f"{intervals.alarmed}/{intervals.episodes} distinct episodes alarmed: {share[0]:.0%}-{share[1]:.0%} "
                "of such episodes would alarm")
    if intervals.gun_free_hours > 0:
        low, high = intervals.false_per_hour
        false = (f"{intervals.false_gun_free} false alarms in {intervals.gun_free_hours * 60:.1f} gun-free minutes: "
                 f"{low:.1f}-{high:.1f} per camera-hour")
    else:
        false = "no gun-free footage"
    return (f"95 % intervals: {episodes}; {false}; showing <= {intervals.target_per_hour:g} per camera-hour takes "
            f"{intervals.hours_to_show:.0f} gun-free camera-hours without one")
