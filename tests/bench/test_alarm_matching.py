"""The alarm benchmark's episode matching, on constructed timelines (clip seconds)."""

from __future__ import annotations

import math

import pytest

from gunwatch.bench.alarm_matching import (
    Alarm,
    AlarmTally,
    Episode,
    GunBox,
    MatchRules,
    covered_seconds,
    episode_of,
    gun_boxes_near,
    judge,
    match_clip,
    on_gun,
)

RULES = MatchRules(grace_s=0.5, short_s=2.0, box_gap_s=1.0, box_grow=0.5, min_iou=0.1)
GUN = (100.0, 100.0, 140.0, 130.0)  # the pistol in hand
TRIPOD = (420.0, 300.0, 455.0, 350.0)  # on the floor, far from it


def alarm(confirmed: float, best: float | None = None, box: tuple[float, float, float, float] = GUN,
          closed: float | None = None, score: float = 0.8) -> Alarm:
    best = confirmed if best is None else best
    return Alarm(confirmed - 0.4, confirmed, max(best, confirmed), closed, best, box, score)


EPISODE = [Episode(3.0, 7.0)]
TWO = [Episode(3.0, 7.0), Episode(7.6, 12.0)]  # 0.6 s apart: both graces reach into the gap
BOXES = [GunBox(4.0, GUN), GunBox(6.0, GUN)]


@pytest.mark.parametrize(
    ("case", "episodes", "the_alarm", "boxes", "verdict", "episode"),
    [
        ("inside, no boxes: cannot be checked", EPISODE, alarm(3.4), [], "unchecked", 0),
        ("within the grace before the start", EPISODE, alarm(2.6), [], "unchecked", 0),
        ("just beyond the grace before the start", EPISODE, alarm(2.4), [], "outside episodes", None),
        ("within the grace after the end", EPISODE, alarm(7.5), [], "unchecked", 0),
        ("beyond the grace after the end", EPISODE, alarm(7.6), [], "outside episodes", None),
        ("a gun-free clip", [], alarm(3.4), [], "outside episodes", None),
        ("box on the gun", EPISODE, alarm(4.2), BOXES, "on the gun", 0),
        ("box on the tripod while the gun is in view", EPISODE, alarm(4.2, box=TRIPOD), BOXES, "off the gun", 0),
        ("centre inside the grown gun box, IoU under 0.1", EPISODE, alarm(4.2, box=(135.0, 125.0, 165.0, 150.0)),
         BOXES, "on the gun", 0),
        ("centre beyond the grown gun box", EPISODE, alarm(4.2, box=(165.0, 100.0, 185.0, 130.0)), BOXES,
         "off the gun", 0),
        ("gun boxes annotated only far from the best frame", EPISODE, alarm(3.2, best=3.5), [GunBox(6.0, GUN)],
         "unchecked", 0),
        ("confirmed in the episode, best frame after it", EPISODE, alarm(6.0, best=9.0), [], "off the gun", 0),
        ("confirmed before the episode, kept alive into it", EPISODE, alarm(1.0, best=5.0), [], "outside episodes",
         None),
        ("in the gap, nearer the first episode", TWO, alarm(7.2), [], "unchecked", 0),
        ("in the gap, nearer the second episode", TWO, alarm(7.45), [], "unchecked", 1),
    ],
)
def test_each_alarm_is_judged_by_the_frame_that_raised_it(case, episodes, the_alarm, boxes, verdict, episode):
    judged = judge(the_alarm, episodes, boxes, RULES)
    assert (judged.verdict, judged.episode) == (verdict, episode), case
    assert judged.true == (verdict in ("on the gun", "unchecked"))


@pytest.mark.parametrize(
    ("case", "episodes", "alarms", "outcomes"),
    [
        ("no alarm: missed", EPISODE, [], [("missed", None, None)]),
        ("alarmed 0.4 s after the gun appeared", EPISODE, [alarm(3.4)], [("alarmed", 0.4, 0)]),
        ("alarmed within the grace before it: latency 0", EPISODE, [alarm(2.8)], [("alarmed", 0.0, 0)]),
        ("two alarms: the first one counts", EPISODE, [alarm(5.0), alarm(3.6)], [("alarmed", 0.6, 1)]),
        ("only a false alarm, before it", EPISODE, [alarm(1.0, closed=2.0)], [("missed", None, None)]),
        ("a false alarm still open as it begins: missed", EPISODE, [alarm(1.0)], [("missed", None, None)]),
        ("only an alarm off the gun", EPISODE, [alarm(4.0, box=TRIPOD)], [("missed", None, None)]),
        (
            "the second episode covered by the first one's open event",
            [Episode(0.0, 19.5), Episode(20.5, 24.7)],
            [alarm(0.4, closed=None)],
            [("alarmed", 0.4, 0), ("covered", None, 0)],
        ),
        (
            "the first episode's event closed before the second: missed",
            [Episode(0.0, 5.0), Episode(20.0, 24.0)],
            [alarm(0.4, closed=15.0)],
            [("alarmed", 0.4, 0), ("missed", None, None)],
        ),
        (
            "each episode its own alarm",
            [Episode(0.0, 5.0), Episode(20.0, 24.0)],
            [alarm(0.4, closed=15.0), alarm(21.0)],
            [("alarmed", 0.4, 0), ("alarmed", 1.0, 1)],
        ),
    ],
)
def test_episodes_are_alarmed_covered_or_missed(case, episodes, alarms, outcomes):
    match = match_clip(episodes, alarms, BOXES if episodes == EPISODE else [], RULES)
    got = [(o.status, None if o.latency_s is None else round(o.latency_s, 6), o.alarm) for o in match.episodes]
    assert got == outcomes, case


def test_short_episodes_are_marked_apart_and_tallied_apart():
    episodes = [Episode(1.0, 2.5), Episode(5.0, 9.0)]
    match = match_clip(episodes, [alarm(1.5), alarm(5.8)], rules=RULES)
    assert [o.short for o in match.episodes] == [True, False]
    tally = AlarmTally()
    tally.add(match, episodes, 10.0)
    assert (tally.episodes, tally.alarmed, tally.short_episodes, tally.short_alarmed) == (1, 1, 1, 1)
    assert tally.latencies == pytest.approx([0.8])


def test_tallies_count_false_alarms_per_camera_hour():
    gun_free, gun_clip = AlarmTally(), AlarmTally()
    gun_free.add(match_clip([], [alarm(10.0), alarm(100.0)], rules=RULES), [], 360.0)  # 2 in 0.1 h
    episodes = [Episode(0.0, 30.0), Episode(20.0, 60.0)]  # overlapping: 60 s of gun
    gun_clip.add(match_clip(episodes, [alarm(0.4), alarm(100.0), alarm(10.0, box=TRIPOD)],
                            [GunBox(10.0, GUN)], RULES), episodes, 420.0)
    total = AlarmTally()
    total.merge(gun_free)
    total.merge(gun_clip)
    assert (total.clips, total.seconds, total.gun_free_s, total.outside_s) == (2, 780.0, 360.0, 720.0)
    assert (total.false_gun_free, total.false_outside, total.off_gun, total.true_alarms) == (2, 3, 1, 1)
    assert total.per_hour_gun_free == pytest.approx(20.0)
    assert total.per_hour_outside == pytest.approx(15.0)
    assert (total.episodes, total.alarmed, total.covered, total.missed) == (2, 1, 1, 0)  # the first still open
    assert total.latency_p50 == pytest.approx(0.4)
    assert math.isnan(AlarmTally().latency_p50) and math.isnan(AlarmTally().per_hour_gun_free)
    assert total.to_json_dict()["false_per_hour_gun_free"] == 20.0


@pytest.mark.parametrize(
    ("episodes", "duration", "seconds"),
    [([], 10.0, 0.0), ([Episode(2.0, 4.0)], 10.0, 2.0), ([Episode(0.0, 5.0), Episode(3.0, 8.0)], 10.0, 8.0),
     ([Episode(8.0, 12.0)], 10.0, 2.0), ([Episode(1.0, 2.0), Episode(4.0, 5.0)], 10.0, 2.0)],
)
def test_seconds_inside_episodes_count_overlaps_once(episodes, duration, seconds):
    assert covered_seconds(episodes, duration) == pytest.approx(seconds)


def test_gun_boxes_at_the_nearest_annotated_time_within_the_gap():
    boxes = [GunBox(2.0, GUN), GunBox(2.0, TRIPOD), GunBox(4.0, TRIPOD)]
    assert gun_boxes_near(2.4, boxes, 1.0) == [GUN, TRIPOD]  # two guns at 2 s
    assert gun_boxes_near(3.6, boxes, 1.0) == [TRIPOD]
    assert gun_boxes_near(5.5, boxes, 1.0) == []
    assert on_gun(GUN, GUN, RULES) and not on_gun(TRIPOD, GUN, RULES)
    assert episode_of(7.3, [Episode(3.0, 7.0)], 0.5) == 0 and episode_of(7.6, [Episode(3.0, 7.0)], 0.5) is None
