"""The alarm benchmark's intervals: each clip counted once however often it was played."""

from __future__ import annotations

import math

import pytest

from gunwatch.bench.alarm_intervals import alarm_intervals, describe
from gunwatch.bench.alarm_matching import AlarmTally
from gunwatch.metrics.intervals import proportion_interval, rate_interval


def tally(episodes: int, alarmed: int, gun_free_s: float, false_gun_free: int, covered: int = 0) -> AlarmTally:
    return AlarmTally(episodes=episodes, alarmed=alarmed, covered=covered, gun_free_s=gun_free_s,
                      false_gun_free=false_gun_free, false_outside=false_gun_free)


def test_one_play_uses_the_counts_as_they_are():
    intervals = alarm_intervals(tally(7, 6, 528.0, 0, covered=1), phases=1, target_per_hour=0.1)
    assert (intervals.episodes, intervals.alarmed) == (7, 7)
    assert intervals.alarmed_share == proportion_interval(7, 7)
    assert intervals.gun_free_hours == pytest.approx(528.0 / 3600)
    assert intervals.false_per_hour == rate_interval(0, 528.0 / 3600)
    assert intervals.hours_to_show == pytest.approx(-math.log(0.025) / 0.1)
    line = describe(intervals)
    assert "7/7 distinct episodes alarmed: 59%-100% of such episodes would alarm" in line
    assert "0 false alarms in 8.8 gun-free minutes: 0.0-25.2 per camera-hour" in line
    assert "showing <= 0.1 per camera-hour takes 37 gun-free camera-hours" in line


def test_several_phases_are_the_same_footage_and_round_against_the_claim():
    # Three plays of 7 episodes and 8.8 gun-free minutes: 20 of 21 plays alarmed, one false alarm in one play.
    intervals = alarm_intervals(tally(21, 20, 3 * 528.0, 1), phases=3, target_per_hour=0.1)
    assert (intervals.episodes, intervals.alarmed) == (7, 6)  # 20 / 3 plays rounded down
    assert intervals.gun_free_hours == pytest.approx(528.0 / 3600)  # not three times the footage
    assert intervals.false_gun_free == 1  # 1 / 3 rounded up
    assert intervals.false_per_hour == rate_interval(1, 528.0 / 3600)
    payload = intervals.to_json_dict()
    assert (payload["episodes"], payload["alarmed"], payload["false_gun_free"]) == (7, 6, 1)
    assert payload["confidence"] == 0.95 and payload["target_per_hour"] == 0.1


def test_without_episodes_or_gun_free_footage_the_line_says_so():
    intervals = alarm_intervals(tally(0, 0, 0.0, 0), phases=1, target_per_hour=0.1)
    assert all(math.isnan(v) for v in (*intervals.alarmed_share, *intervals.false_per_hour))
    assert "no episodes" in describe(intervals) and "no gun-free footage" in describe(intervals)
    assert intervals.to_json_dict()["false_per_hour"] == [None, None]
    with pytest.raises(ValueError, match="phases"):
        alarm_intervals(tally(1, 1, 1.0, 0), phases=0, target_per_hour=0.1)
