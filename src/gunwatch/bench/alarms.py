"""`gunwatch bench alarms`: the live pipeline's alarms on recorded clips, against when the guns were in view.

Each clip (`alarm_clips`: a video and its sidecar of gun episodes) plays through the parts `gunwatch watch`
runs (`alarm_replay`: file reader, sampling at `detect.fps`, motion gate, detector with the second look,
tracker, confirmation) in accelerated time, by its own timestamps, once per sampling phase (`phases`: a live
camera's samples fall wherever its frames arrive, so one phase alone can miss, or never meet, what another
frame of the same second shows). The detector runs once per play; each setting of the sweep (threshold x
confirmation window x quick lane) replays only tracking and confirmation. Every setting's alarms are matched to the
episodes (`alarm_matching`): episodes alarmed, latency from the episode's start to the event, false alarms,
and false alarms per camera-hour on the gun-free clips and over all footage outside episodes (the plays'
counts add up: the rate is the mean over phases). A clip that cannot be played (it does not open, or breaks
off) is left out of every number and named (`not_played`); the others go on.
"""

from __future__ import annotations

import math
import tempfile
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

import av
from tqdm import tqdm

from gunwatch.bench.alarm_clips import OVERLAY_DIR, BenchClip, find_clips
from gunwatch.bench.alarm_intervals import alarm_intervals
from gunwatch.bench.alarm_matching import Alarm, AlarmTally, ClipMatch, MatchRules, match_clip
from gunwatch.bench.alarm_replay import (
    ClipError,
    ClipPlay,
    ConfirmSetting,
    QuickLane,
    ReplayedEvent,
    confirm,
    play_clip,
    play_label,
)
from gunwatch.config.camera import Camera, DetectSettings
from gunwatch.config.sections import ConfirmationSettings, DetectorSettings, MotionSettings
from gunwatch.config.site import SiteConfig
from gunwatch.inference.alarm_threshold import alarm_threshold
from gunwatch.inference.loading import load_detector
from gunwatch.inference.tiling import TileMode
from gunwatch.pipeline.analysis import FrameAnalyzer
from gunwatch.pipeline.watch_command import input_side, second_look_params

MAX_FALSE_PER_HOUR = 0.1  # the target on gun-free footage (issue 11)
LIVE_DETECT = DetectSettings()
LIVE_CONFIRMATION = ConfirmationSettings()
LIVE_QUICK = QuickLane.of(LIVE_CONFIRMATION)
PROGRESS_FORMAT = "{desc}: {percentage:3.0f}% {bar} {n:.1f}/{total:.1f} s [{elapsed}]"


@dataclass(frozen=True)
class AlarmBenchSettings:
    clips: tuple[Path, ...]
    model: Path | None = None  # None: the shipped detector
    fps: float = LIVE_DETECT.fps
    second_look: bool = LIVE_DETECT.second_look
    tiles: TileMode = LIVE_DETECT.tiles
    flip: bool = DetectorSettings().flip  # the test-time flip, as `detector.flip`
    verifier: str = str(DetectorSettings().verifier)  # the gun verifier, as `detector.verifier`
    max_input: int | None = DetectorSettings().max_input_size  # frame-shaped input, as `detector.max_input_size`
    motion: bool = True
    gun_hold_score: float | None = MotionSettings().gun_hold_score  # holds the gate open (None: motion alone)
    phases: int = 1  # plays per clip, their sampling clocks spread evenly over one sampling period
    thresholds: tuple[float, ...] | None = None  # None: the model's own
    windows: tuple[tuple[int, int], ...] = ((LIVE_CONFIRMATION.min_hits, LIVE_CONFIRMATION.window),)
    quicks: tuple[QuickLane | None, ...] = (LIVE_QUICK,)  # None: no quick lane
    close_after_s: float = LIVE_CONFIRMATION.close_after_s
    rules: MatchRules = field(default_factory=MatchRules)
    overlay: Path | None = OVERLAY_DIR  # hand-made gun boxes for clips whose sidecars are read-only

    def __post_init__(self) -> None:
        if not self.clips:
            raise ValueError("give at least one folder of clips")
        if self.phases < 1:
            raise ValueError(f"phases must be at least 1, got {self.phases}")
        for min_hits, window in self.windows:
            if not 1 <= min_hits <= window:
                raise ValueError(f"a window needs 1 <= hits <= frames, got {min_hits}/{window}")
        for quick in self.quicks:
            if quick is not None and not (1 <= quick.hits <= quick.window and 0 <= quick.margin <= 1):
                raise ValueError(f"a quick lane needs a margin in [0, 1] and 1 <= hits <= frames, got {quick.label}")
        if self.thresholds is not None and not all(0 <= t <= 1 for t in self.thresholds):
            raise ValueError(f"thresholds must be in [0, 1], got {self.thresholds}")


def parse_windows(text: str) -> tuple[tuple[int, int], ...]:
    """'3/5,2/4' -> ((3, 5), (2, 4)): hits needed / analysed frames looked back over."""
    windows = []
    for part in text.split(","):
        hits, _, frames = part.strip().partition("/")
        if not (hits.isdigit() and frames.isdigit()):
            raise ValueError(f"a window is HITS/FRAMES like 3/5, not {part.strip()!r}")
        windows.append((int(hits), int(frames)))
    return tuple(windows)


def parse_quicks(text: str) -> tuple[QuickLane | None, ...]:
    """'0.05:2/3,off' -> (QuickLane(0.05, 2, 3), None): margin over the threshold, then hits / frames."""
    quicks: list[QuickLane | None] = []
    for part in text.split(","):
        part = part.strip()
        if part == "off":
            quicks.append(None)
            continue
        margin, _, rule = part.partition(":")
        try:
            (hits, frames), value = parse_windows(rule)[0], float(margin)
        except ValueError:
            raise ValueError(f"a quick lane is MARGIN:HITS/FRAMES like 0.05:2/3, or off, not {part!r}") from None
        quicks.append(QuickLane(value, hits, frames))
    return tuple(quicks)


def parse_gun_hold(text: str) -> float | None:
    """`--gun-hold`: a score in [0, 1], or off."""
    if text.strip().lower() == "off":
        return None
    try:
        value = float(text)
    except ValueError:
        raise ValueError(f"--gun-hold must be a score in [0, 1] or off, not {text!r}") from None
    if not 0 <= value <= 1:
        raise ValueError(f"--gun-hold must be a score in [0, 1] or off, not {text!r}")
    return value


def parse_thresholds(text: str) -> tuple[float, ...]:
    try:
        return tuple(float(part) for part in text.split(","))
    except ValueError:
        raise ValueError(f"thresholds are numbers separated by commas, not {text!r}") from None


@dataclass(frozen=True)
class ClipResult:
    clip: BenchClip
    duration_s: float
    events: list[ReplayedEvent]
    alarms: list[Alarm]  # the events in clip seconds
    match: ClipMatch
    phase_s: float = 0.0

    @property
    def label(self) -> str:
        return play_label(self.clip.name, self.phase_s)

    @property
    def tally(self) -> AlarmTally:
        tally = AlarmTally()
        tally.add(self.match, self.clip.episodes, self.duration_s)
        return tally


@dataclass(frozen=True)
class SettingRun:
    setting: ConfirmSetting
    clips: list[ClipResult]

    @property
    def total(self) -> AlarmTally:
        total = AlarmTally()
        for result in self.clips:
            total.merge(result.tally)
        return total

    @property
    def false_per_hour(self) -> float:
        """The rate the target is on: the gun-free clips', or (without any) the rate outside episodes."""
        total = self.total
        return total.per_hour_gun_free if total.gun_free_s > 0 else total.per_hour_outside


@dataclass(frozen=True)
class ClipStats:
    name: str
    phase_s: float
    duration_s: float
    decoded: int
    sampled: int
    analysed: int


@dataclass
class AlarmBench:
    settings: AlarmBenchSettings
    model: str
    model_threshold: float
    forced_check_s: float
    clips: list[ClipStats]
    runs: list[SettingRun]
    not_played: list[str] = field(default_factory=list)  # "PATH: why" for each clip left out

    def recommended(self) -> SettingRun | None:
        return recommend(self.runs)

    def to_json_dict(self) -> dict[str, object]:
        settings = asdict(self.settings)
        settings.update(clips=[str(p) for p in self.settings.clips], model=self.model,
                        overlay=str(self.settings.overlay) if self.settings.overlay else None,
                        model_threshold=round(self.model_threshold, 4), forced_check_s=self.forced_check_s)
        best = self.recommended()
        return {
            "settings": settings,
            "clips": [asdict(c) for c in self.clips],
            "runs": [_run_json(run, self.settings.phases) for run in self.runs],
            "recommended": asdict(best.setting) if best else None,
            "not_played": self.not_played,
        }


def recommend(runs: list[SettingRun], max_per_hour: float = MAX_FALSE_PER_HOUR) -> SettingRun | None:
    """The rule: at most `max_per_hour` false alarms per camera-hour on gun-free footage first, then the most
    episodes alarmed (of >= 2 s), then the lowest median latency, then p95; ties go to fewer false alarms
    elsewhere (outside episodes, off the gun), then to the live confirmation window and quick lane (no change
    without a reason), then to the stricter setting (higher threshold; more hits per frame of the window, as 2 of
    3 fires only where 2 of 5 would too; a wider quick margin, none at all strictest). None when no setting
    qualifies."""
    live_window = (LIVE_CONFIRMATION.min_hits, LIVE_CONFIRMATION.window)

    def key(run: SettingRun) -> tuple[float, ...]:
        t, s = run.total, run.setting
        p50 = t.latency_p50 if not math.isnan(t.latency_p50) else math.inf
        p95 = t.latency_p95 if not math.isnan(t.latency_p95) else math.inf
        quick_margin = s.quick.margin if s.quick is not None else math.inf  # no quick lane: the strictest
        return (-(t.alarmed + t.covered), p50, p95, t.false_outside + t.off_gun,
                (s.min_hits, s.window) != live_window, s.quick != LIVE_QUICK, -s.threshold, -s.min_hits / s.window,
                -s.min_hits, -quick_margin)

    qualifying = [run for run in runs if run.false_per_hour <= max_per_hour]
    return min(qualifying, key=key) if qualifying else None


def _run_json(run: SettingRun, phases: int) -> dict[str, object]:
    clips = []
    for result in run.clips:
        alarms = [
            {**asdict(alarm), "verdict": verdict.verdict, "true": verdict.true, "episode": verdict.episode,
             "id": event.event.id}
            for alarm, verdict, event in zip(result.alarms, result.match.verdicts, result.events, strict=True)
        ]
        episodes = [{**asdict(episode), **asdict(outcome)}
                    for episode, outcome in zip(result.clip.episodes, result.match.episodes, strict=True)]
        clips.append({"clip": result.clip.name, "phase_s": round(result.phase_s, 4),
                      "duration_s": round(result.duration_s, 3), "episodes": episodes,
                      "alarms": alarms, "tally": result.tally.to_json_dict()})
    return {"setting": asdict(run.setting), "total": run.total.to_json_dict(),
            "intervals_95": alarm_intervals(run.total, phases, MAX_FALSE_PER_HOUR).to_json_dict(), "clips": clips}


def bench_site(folder: Path, settings: AlarmBenchSettings, placeholder: Path) -> SiteConfig:
    """The site sections the pipeline reads (motion, evidence, the second look's parameters, all at their live
    defaults); the cameras are the clips themselves."""
    return SiteConfig.model_validate({
        "cameras": {"clip": {"url": str(placeholder)}},
        "motion": {"enabled": settings.motion, "gun_hold_score": settings.gun_hold_score},
        "evidence": {"folder": str(folder / "evidence")},  # nothing is written: no event opens in the loop
        "confirmation": {"close_after_s": settings.close_after_s},
    })


def clip_camera(clip: BenchClip, settings: AlarmBenchSettings) -> Camera:
    return Camera(url=str(clip.path), detect=DetectSettings(fps=settings.fps, tiles=settings.tiles,
                                                            second_look=settings.second_look))


def clip_seconds(path: Path) -> float | None:
    """The clip's length from its header (for the progress bar), None when it does not say (or does not open:
    playing it then says why)."""
    try:
        with av.open(str(path)) as container:
            return container.duration / av.time_base if container.duration else None
    except (av.FFmpegError, OSError):
        return None


def phase_offsets(settings: AlarmBenchSettings) -> list[float]:
    """Where each play's sampling clock starts after the clip's first frame: spread over one period."""
    period = 1.0 / settings.fps
    return [period * k / settings.phases for k in range(settings.phases)]


def settings_grid(settings: AlarmBenchSettings, model_threshold: float) -> list[ConfirmSetting]:
    thresholds = settings.thresholds or (model_threshold,)
    return [ConfirmSetting(t, hits, frames, quick)
            for t in thresholds for hits, frames in settings.windows for quick in settings.quicks]


def replay(plays: list[ClipPlay], setting: ConfirmSetting, settings: AlarmBenchSettings, model_threshold: float,
           gun_class_id: int) -> SettingRun:
    results = []
    for play in plays:
        camera = clip_camera(play.clip, settings)
        events = confirm(play, camera, setting, settings.close_after_s, model_threshold, gun_class_id)
        alarms = [event.alarm(play.start_pts) for event in events]
        match = match_clip(play.clip.episodes, alarms, play.clip.boxes, settings.rules)
        results.append(ClipResult(play.clip, play.duration_s, events, alarms, match, play.phase_s))
    return SettingRun(setting, results)


def run_alarm_bench(settings: AlarmBenchSettings, progress: bool = False,
                    say: Callable[[str], None] = lambda _: None) -> tuple[AlarmBench, list[ClipPlay]]:
    """The bench, and each clip's play (its detections and pictures, for the contact sheets)."""
    clips = find_clips(list(settings.clips), settings.overlay)
    # One call at a time, on every core.
    detector = load_detector(settings.model, flip=settings.flip, verifier=settings.verifier,
                             max_input=settings.max_input)
    gun_class_id = detector.class_names.index("handgun")
    live_threshold = alarm_threshold(detector)  # what `watch` confirms with (the grid's default)
    grid = settings_grid(settings, live_threshold)
    keep_score = min(setting.threshold for setting in grid)
    say(f"{len(clips)} clips ({sum(c.gun_free for c in clips)} gun-free), {settings.phases} phase(s) each; "
        f"model {detector.name}; {len(grid)} settings")
    plays: list[ClipPlay] = []
    not_played: list[str] = []
    with tempfile.TemporaryDirectory(prefix="gunwatch-bench-alarms-") as temp:
        site = bench_site(Path(temp), settings, clips[0].path)
        analyzer = FrameAnalyzer(detector, input_side(detector), second_look_params(site))  # as `watch` builds it
        for clip in clips:
            try:
                clip_plays = play_phases(clip, settings, site, analyzer, gun_class_id, keep_score, progress, say)
            except ClipError as error:  # one bad clip does not stop the others, and is never counted quietly
                not_played.append(str(error))
                say(f"not played: {error}")
                continue
            plays += clip_plays
    if not plays:
        raise ClipError("no clip could be played: " + "; ".join(not_played))
    runs = [replay(plays, setting, settings, live_threshold, gun_class_id) for setting in grid]
    stats = [ClipStats(p.clip.name, p.phase_s, p.duration_s, p.decoded, len(p.sampled), p.analysed) for p in plays]
    return AlarmBench(settings, detector.name, live_threshold, MotionSettings().forced_check_s, stats, runs,
                      not_played), plays


def play_phases(clip: BenchClip, settings: AlarmBenchSettings, site: SiteConfig, analyzer: FrameAnalyzer,
                gun_class_id: int, keep_score: float, progress: bool, say: Callable[[str], None]) -> list[ClipPlay]:
    """The clip's plays, one per sampling phase; ClipError when it cannot be played (none of its plays count)."""
    camera = clip_camera(clip, settings)
    plays = []
    for phase_s in phase_offsets(settings):
        with tqdm(total=clip_seconds(clip.path), desc=play_label(clip.name, phase_s), unit="s",
                  disable=not progress, leave=False, bar_format=PROGRESS_FORMAT) as bar:
            def advance(t: float, bar: tqdm = bar) -> None:
                bar.update(t - bar.n)

            try:
                play = play_clip(clip, camera, site, analyzer, gun_class_id, keep_score, advance, phase_s)
            except (av.FFmpegError, OSError) as error:
                raise ClipError(f"{clip.path}: {error}") from None
        plays.append(play)
        say(f"{play.label}: {play.duration_s:.1f} s, {len(play.sampled)} frames sampled, {play.analysed} analysed")
    return plays
