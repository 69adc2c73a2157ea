"""Which alarms were right: a clip's threat events against its gun episodes (and gun boxes, where known).

Pure arithmetic on clip times (seconds from the clip's first frame), tested on constructed timelines.

An alarm is judged by the frame that raised it, its confirmation:

- **outside episodes** (false): confirmed more than `grace_s` before an episode starts or after it ends.
  An event confirmed on something else and kept alive into a later episode is still a false alarm: nothing
  was in view when it was raised.
- **off the gun** (false): confirmed inside an episode, but its best frame (the evidence a person sees) is
  outside every episode, or its best box is not on any gun box annotated within `box_gap_s` of that frame.
  Where boxes are known, a box counts as on the gun when IoU >= `min_iou` or its centre lies inside the gun
  box grown by `box_grow` of its width and height on each side (the gun moves between hand-made boxes).
- **on the gun** (true): confirmed inside an episode, the best box checked against a gun box and on it.
- **unchecked** (true): confirmed inside an episode, no gun box annotated near its best frame.

An episode is **alarmed** by its first true alarm (latency = confirmation - episode start, 0 when it came
within the grace before the start); **covered** when it has no alarm of its own but a true alarm (of an
earlier episode) was still open as it began (one event per camera: the gun joins that event, no new alarm
is raised; counted as alarmed, with no latency, and shown apart); **missed** otherwise, also when the open
event was a false alarm (the site was alarmed about something else). Episodes shorter than `short_s` are
reported apart: the target (every episode alarmed) is for the longer ones.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal

import numpy as np

from gunwatch.boxes import box_iou

Box = tuple[float, float, float, float]
Verdict = Literal["on the gun", "unchecked", "off the gun", "outside episodes"]
EpisodeStatus = Literal["alarmed", "covered", "missed"]
TRUE_VERDICTS: frozenset[Verdict] = frozenset({"on the gun", "unchecked"})


@dataclass(frozen=True)
class MatchRules:
    grace_s: float = 0.5  # sidecar episode times are hand-made: this much either side still counts
    short_s: float = 2.0  # episodes shorter than this are reported apart
    box_gap_s: float = 1.0  # a gun box annotated this close in time to the best frame is checked against
    box_grow: float = 0.5  # the gun box grown by this share of its size on each side, for the centre test
    min_iou: float = 0.1


@dataclass(frozen=True)
class Episode:
    start: float
    end: float

    @property
    def length(self) -> float:
        return self.end - self.start


@dataclass(frozen=True)
class GunBox:
    """A gun seen at clip time `t`, xyxy pixels of the clip's frames."""

    t: float
    xyxy: Box


@dataclass(frozen=True)
class Alarm:
    """One threat event of a clip, in clip seconds."""

    first_seen: float  # the confirming track's first hit
    confirmed_at: float  # the event opened
    last_seen: float
    closed_at: float | None  # None: still open when the clip ended
    best_at: float  # the frame of its highest score (its evidence)
    best_box: Box
    score: float

    def open_at(self, t: float) -> bool:
        return self.confirmed_at <= t and (self.closed_at is None or t < self.closed_at)


@dataclass(frozen=True)
class AlarmVerdict:
    verdict: Verdict
    episode: int | None  # the episode it was confirmed in (None: outside episodes)

    @property
    def true(self) -> bool:
        return self.verdict in TRUE_VERDICTS


@dataclass(frozen=True)
class EpisodeOutcome:
    status: EpisodeStatus
    short: bool
    latency_s: float | None = None  # alarmed: episode start -> confirmation
    alarm: int | None = None  # the alarm that alarmed (or covered) it


@dataclass(frozen=True)
class ClipMatch:
    verdicts: list[AlarmVerdict]
    episodes: list[EpisodeOutcome]


def episode_of(t: float, episodes: Sequence[Episode], grace_s: float) -> int | None:
    """The episode whose span, widened by the grace, holds `t` (the nearest when two do), or None."""
    distances = [(max(e.start - t, t - e.end, 0.0), i) for i, e in enumerate(episodes)
                 if e.start - grace_s <= t <= e.end + grace_s]
    return min(distances)[1] if distances else None


def gun_boxes_near(t: float, boxes: Sequence[GunBox], gap_s: float) -> list[Box]:
    """The boxes annotated at the time nearest to `t`, if it is within `gap_s` (several guns: several boxes)."""
    near = [b for b in boxes if abs(b.t - t) <= gap_s]
    if not near:
        return []
    nearest = min(abs(b.t - t) for b in near)
    return [b.xyxy for b in near if math.isclose(abs(b.t - t), nearest, abs_tol=1e-6)]


def on_gun(box: Box, gun: Box, rules: MatchRules) -> bool:
    if float(box_iou(np.array([box]), np.array([gun]))[0, 0]) >= rules.min_iou:
        return True
    x1, y1, x2, y2 = gun
    grow_x, grow_y = rules.box_grow * (x2 - x1), rules.box_grow * (y2 - y1)
    cx, cy = (box[0] + box[2]) / 2, (box[1] + box[3]) / 2
    return x1 - grow_x <= cx <= x2 + grow_x and y1 - grow_y <= cy <= y2 + grow_y


def judge(alarm: Alarm, episodes: Sequence[Episode], boxes: Sequence[GunBox], rules: MatchRules) -> AlarmVerdict:
    episode = episode_of(alarm.confirmed_at, episodes, rules.grace_s)
    if episode is None:
        return AlarmVerdict("outside episodes", None)
    if episode_of(alarm.best_at, episodes, rules.grace_s) is None:
        return AlarmVerdict("off the gun", episode)  # its evidence shows a frame without a gun
    guns = gun_boxes_near(alarm.best_at, boxes, rules.box_gap_s)
    if not guns:
        return AlarmVerdict("unchecked", episode)
    if any(on_gun(alarm.best_box, gun, rules) for gun in guns):
        return AlarmVerdict("on the gun", episode)
    return AlarmVerdict("off the gun", episode)


def match_clip(episodes: Sequence[Episode], alarms: Sequence[Alarm], boxes: Sequence[GunBox] = (),
               rules: MatchRules = MatchRules()) -> ClipMatch:
    verdicts = [judge(alarm, episodes, boxes, rules) for alarm in alarms]
    outcomes = []
    for index, episode in enumerate(episodes):
        short = episode.length < rules.short_s
        own = [i for i, v in enumerate(verdicts) if v.true and v.episode == index]
        if own:
            first = min(own, key=lambda i: alarms[i].confirmed_at)
            latency = max(0.0, alarms[first].confirmed_at - episode.start)
            outcomes.append(EpisodeOutcome("alarmed", short, latency, first))
            continue
        covering = [i for i, alarm in enumerate(alarms) if verdicts[i].true and alarm.open_at(episode.start)]
        if covering:
            outcomes.append(EpisodeOutcome("covered", short, None, covering[0]))
        else:
            outcomes.append(EpisodeOutcome("missed", short))
    return ClipMatch(verdicts, outcomes)


def covered_seconds(episodes: Sequence[Episode], duration_s: float) -> float:
    """Seconds of [0, duration_s] inside some episode (overlapping episodes counted once)."""
    spans = sorted((max(0.0, e.start), min(duration_s, e.end)) for e in episodes)
    total, reach = 0.0, 0.0
    for start, end in spans:
        start = max(start, reach)
        if end > start:
            total += end - start
            reach = end
    return total


@dataclass
class AlarmTally:
    """Counts over one clip or many; `add` a clip's match."""

    clips: int = 0
    seconds: float = 0.0  # footage
    outside_s: float = 0.0  # footage outside episodes
    gun_free_s: float = 0.0  # footage of clips without episodes
    episodes: int = 0  # of at least short_s
    alarmed: int = 0  # of those, by an alarm of their own
    covered: int = 0  # of those, by an event already open
    short_episodes: int = 0
    short_alarmed: int = 0  # alarmed or covered
    latencies: list[float] = field(default_factory=list)  # of the alarmed long episodes
    true_alarms: int = 0
    unchecked: int = 0  # true alarms whose box could not be checked
    false_outside: int = 0  # false alarms confirmed outside episodes
    false_gun_free: int = 0  # of those, on clips without episodes
    off_gun: int = 0  # false alarms inside episodes, box not on the gun

    def add(self, match: ClipMatch, episodes: Sequence[Episode], duration_s: float) -> None:
        self.clips += 1
        self.seconds += duration_s
        self.outside_s += duration_s - covered_seconds(episodes, duration_s)
        if not episodes:
            self.gun_free_s += duration_s
        for outcome in match.episodes:
            if outcome.short:
                self.short_episodes += 1
                self.short_alarmed += outcome.status != "missed"
                continue
            self.episodes += 1
            self.alarmed += outcome.status == "alarmed"
            self.covered += outcome.status == "covered"
            if outcome.latency_s is not None:
                self.latencies.append(outcome.latency_s)
        for verdict in match.verdicts:
            self.true_alarms += verdict.true
            self.unchecked += verdict.verdict == "unchecked"
            self.off_gun += verdict.verdict == "off the gun"
            if verdict.verdict == "outside episodes":
                self.false_outside += 1
                self.false_gun_free += not episodes

    def merge(self, other: AlarmTally) -> None:
        for name, value in vars(other).items():
            setattr(self, name, getattr(self, name) + value)

    @property
    def missed(self) -> int:
        return self.episodes - self.alarmed - self.covered

    @property
    def latency_p50(self) -> float:
        return float(np.percentile(self.latencies, 50)) if self.latencies else math.nan

    @property
    def latency_p95(self) -> float:
        return float(np.percentile(self.latencies, 95)) if self.latencies else math.nan

    @property
    def per_hour_gun_free(self) -> float:
        """False alarms per camera-hour on the gun-free clips (NaN without any)."""
        return self.false_gun_free / (self.gun_free_s / 3600) if self.gun_free_s > 0 else math.nan

    @property
    def per_hour_outside(self) -> float:
        """False alarms confirmed outside episodes per camera-hour of footage outside episodes."""
        return self.false_outside / (self.outside_s / 3600) if self.outside_s > 0 else math.nan

    def to_json_dict(self) -> dict[str, object]:
        def number(value: float) -> float | None:
            return None if math.isnan(value) else round(value, 4)

        return {
            **{name: value for name, value in vars(self).items() if name != "latencies"},
            "latencies_s": [round(v, 4) for v in self.latencies],
            "missed": self.missed,
            "latency_p50_s": number(self.latency_p50),
            "latency_p95_s": number(self.latency_p95),
            "false_per_hour_gun_free": number(self.per_hour_gun_free),
            "false_per_hour_outside": number(self.per_hour_outside),
        }
