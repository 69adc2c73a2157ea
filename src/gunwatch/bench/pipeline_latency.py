"""Latency: from the first frame with a gun (its stream timestamp) to the threat event's row committed.

Several cameras loop gun clips of different lengths, so their gun appearances are staggered and drift
apart; a short `close_after_s` closes each event before the next appearance, so every pass of every
camera opens one event. A file source is paced at its own speed, so a frame's wall-clock time is the
wall-clock time of another frame of the same stream plus the difference of their timestamps. The event
carries such a pair, its first gun hit (`first_seen`, `first_pts`), which puts the clip's onset frame on
the wall clock:

    onset      = first_seen - (first_pts - onset_pts)      the first frame with the gun
    confirmed  = confirmed_at                              the analysed frame that confirmed it
    committed  = time.time() in on_event                   the service calls it right after save_event

confirmation = confirmed - onset (sampling, the hits the rule needs); processing = committed - confirmed
(waiting to be sampled, inference with other cameras' frames, the store's commit).
"""

from __future__ import annotations

import math
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from gunwatch.bench.pipeline_clips import GunClip
from gunwatch.bench.pipeline_service import SiteOptions, bench_site, running_service
from gunwatch.events.model import ThreatEvent
from gunwatch.pipeline.analysis import FrameAnalyzer
from gunwatch.video.sources import SourceStats

EPS = 1e-3  # timestamps are multiples of 1/fps in floating point
# An event may open this long after its gun left the picture (the confirming frame still in processing);
# an appearance that ended this long before the run stopped and has no event was missed.
GRACE_S = 1.0


@dataclass(frozen=True)
class Spread:
    p50: float
    p95: float
    max: float

    @classmethod
    def of(cls, values: list[float]) -> Spread:
        if not values:
            return cls(math.nan, math.nan, math.nan)
        return cls(float(np.percentile(values, 50)), float(np.percentile(values, 95)), float(max(values)))


@dataclass(frozen=True)
class LatencySample:
    camera: str
    appearance: int  # the clip's pass, 0 = the first
    confirmation_s: float  # first gun frame -> confirming frame
    processing_s: float  # confirming frame -> row committed

    @property
    def total_s(self) -> float:
        return self.confirmation_s + self.processing_s


@dataclass(frozen=True)
class ExtraEvent:
    """An event that is not the first of a gun appearance."""

    camera: str
    first_pts: float | None
    appearance: int | None  # None: its first gun frame lies outside every gun scene (a false alarm)


@dataclass(frozen=True)
class LatencyResult:
    samples: list[LatencySample]
    cameras: int
    appearances: int  # gun appearances sampled, or over GRACE_S before the stop
    missed: int  # of those, how many opened no event
    extra_events: list[ExtraEvent]  # beyond one per appearance: false alarms, or an appearance's event re-opened
    seconds: float  # wall time of the run

    @property
    def total(self) -> Spread:
        return Spread.of([s.total_s for s in self.samples])

    @property
    def confirmation(self) -> Spread:
        return Spread.of([s.confirmation_s for s in self.samples])

    @property
    def processing(self) -> Spread:
        return Spread.of([s.processing_s for s in self.samples])


def appearance_of(clip: GunClip, pts: float) -> int | None:
    """The pass whose gun scene holds the frame at `pts`, None when it lies outside every gun scene."""
    index = math.floor((pts - clip.onset_pts + EPS) / clip.pass_s)
    inside = pts - index * clip.pass_s < clip.gun_end_pts - EPS
    return index if index >= 0 and inside else None


def sample_of(event: ThreatEvent, committed: float, clip: GunClip) -> LatencySample | None:
    """The latency of an "open" event, None when its first gun frame is not in a gun scene (a false alarm)."""
    if event.first_pts is None:
        return None
    appearance = appearance_of(clip, event.first_pts)
    if appearance is None:
        return None
    onset = event.first_seen - (event.first_pts - (clip.onset_pts + appearance * clip.pass_s))
    return LatencySample(event.camera, appearance, event.confirmed_at - onset, committed - event.confirmed_at)


def appearances_over(clip: GunClip, stats: SourceStats, until: float) -> range:
    """The passes whose gun scene ended GRACE_S before `until`, from the source's newest frame and count."""
    if stats.last_frame_at is None or stats.frames_in == 0:
        return range(0)
    newest_pts = clip.start_pts + (stats.frames_in - 1) / clip.fps  # a looped file's timestamps keep rising
    wall_of_pts0 = stats.last_frame_at - newest_pts
    ended = (until - GRACE_S - wall_of_pts0 - clip.gun_end_pts) / clip.pass_s
    return range(max(0, math.floor(ended) + 1))


class LatencyCollector:
    """on_event for the run: each "open" change becomes a sample (or an extra event) as it is committed."""

    def __init__(self, clips: dict[str, GunClip], wanted: int):
        self.clips, self.wanted = clips, wanted
        self.samples: dict[tuple[str, int], LatencySample] = {}
        self.extra: list[ExtraEvent] = []
        self.opened: set[str] = set()
        self.enough = threading.Event()

    def __call__(self, event: ThreatEvent) -> None:
        committed = time.time()  # first: the row is committed when the service calls this
        # By id: an event whose clip is ready is published again, still "open" if its score never rose.
        if event.state != "open" or event.id in self.opened:
            return
        self.opened.add(event.id)
        sample = sample_of(event, committed, self.clips[event.camera])
        if sample is None or (sample.camera, sample.appearance) in self.samples:
            self.extra.append(ExtraEvent(event.camera, event.first_pts, sample.appearance if sample else None))
            return
        self.samples[(sample.camera, sample.appearance)] = sample
        if len(self.samples) >= self.wanted:
            self.enough.set()


def measure_latency(analyzer: FrameAnalyzer, clips: dict[str, GunClip], folder: Path, wanted: int,
                    options: SiteOptions, timeout_s: float) -> LatencyResult:
    """Run the cameras until `wanted` samples are in (or `timeout_s` passed)."""
    collect = LatencyCollector(clips, wanted)
    site = bench_site({name: clip.path for name, clip in clips.items()}, folder, options)
    started = time.time()
    with running_service(site, analyzer, collect) as service:
        collect.enough.wait(timeout_s)
        stopped = time.time()
        stats = {loop.name: loop.source.stats() for loop in service.loops}
    due = {(name, k) for name, clip in clips.items() for k in appearances_over(clip, stats[name], stopped)}
    samples = sorted(collect.samples.values(), key=lambda s: (s.camera, s.appearance))
    seen = due | collect.samples.keys()
    return LatencyResult(samples, len(clips), len(seen), len(due - collect.samples.keys()), collect.extra,
                         stopped - started)
