"""`gunwatch bench isolation`: does an expensive camera take a cheap camera's analysis away?

Issue 12 measured it: a 640x360 camera looping a gun clip at 5 fps (motion gating off) analysed 101 frames
in 20 s and raised its event; beside a 1080p camera with tiles on, 56, and no event. Two runs of `seconds`
each here, in one process, with the shipped detector and the service `gunwatch watch` runs:

1. alone: the cheap camera (`../shared/videos/jpadwor1_range-pistol.mp4` where the checkout has it, else the
   repository's `samples/demo/lobby.mp4`, 640x360 as well), second look off: with it, the shipped model's
   scores on the range clip stay under its alarm threshold, and an event is what shows the camera works;
2. beside: the same camera, and a 1080p one with tiles on and gating off (a mostly static scene made from
   the repository's sample images, so every sampled frame runs all its tiles).

For the cheap camera: frames analysed and events raised from the service's start, and the analysis latency of
each analysed frame (its arrival to its detections back: what it waited for the detector, batches and other
cameras included); the alone run is the reference the beside run is compared with.
"""

from __future__ import annotations

import tempfile
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from gunwatch.bench.pipeline_clips import ClipFormat, make_static_clip
from gunwatch.bench.pipeline_latency import Spread
from gunwatch.bench.pipeline_service import TimedAnalyzer, running_service
from gunwatch.config.sections import DetectorSettings, detector_parallelism
from gunwatch.config.site import SiteConfig
from gunwatch.events.model import ThreatEvent
from gunwatch.inference.loading import load_detector
from gunwatch.pipeline.analysis import AnalysisRequest
from gunwatch.pipeline.camera_runner import CameraRunner
from gunwatch.pipeline.watch import WatchService
from gunwatch.pipeline.watch_command import input_side

REPOSITORY = Path(__file__).resolve().parents[3]
SHARED_CLIP = REPOSITORY.parent / "shared" / "videos" / "jpadwor1_range-pistol.mp4"
SAMPLE_CLIP = REPOSITORY / "samples" / "demo" / "lobby.mp4"
DETECT_FPS = 5.0
HD = ClipFormat(1920, 1080, 15.0)
HD_CLIP_S = 6.0  # looped; long enough that the loop's restart is rare, short enough to encode in seconds
CHEAP, EXPENSIVE = "cheap", "hd-tiled"


def default_clip() -> Path:
    return SHARED_CLIP if SHARED_CLIP.is_file() else SAMPLE_CLIP


@dataclass(frozen=True)
class IsolationSettings:
    seconds: float = 20.0  # per run, from the service's start
    clip: Path | None = None  # the cheap camera's clip (None: `default_clip()`)
    model: Path | None = None  # None: the shipped detector
    threads: int | None = None  # detector threads per call (None: as `gunwatch watch`)
    verifier: str = "auto"  # as `gunwatch watch` runs it by default (see inference.loading.resolve_verifier)
    max_input: int | None = DetectorSettings().max_input_size  # frame-shaped input, as `detector.max_input_size`

    def __post_init__(self) -> None:
        if self.seconds <= 0:
            raise ValueError(f"seconds must be > 0, got {self.seconds:g}")
        if self.clip is not None and not self.clip.is_file():
            raise ValueError(f"{self.clip}: no such clip")

    @property
    def cheap_clip(self) -> Path:
        return self.clip or default_clip()


@dataclass(frozen=True)
class IsolationRow:
    case: str
    seconds: float
    analysed: int  # the cheap camera's frames analysed
    events: int  # the cheap camera's events opened
    latency: Spread  # the cheap camera's analysis latency, seconds
    other_analysed: int | None = None  # the expensive camera's (None: alone)
    other_infer_ms: float | None = None  # its detector time per frame

    def to_json_dict(self) -> dict[str, object]:
        return asdict(self)


@dataclass(frozen=True)
class IsolationBench:
    settings: IsolationSettings
    clip: Path
    alone: IsolationRow
    beside: IsolationRow
    detector: str  # the detector's name as loaded (with "+verifier" when one judges its candidates)

    def to_json_dict(self) -> dict[str, object]:
        return {"seconds": self.settings.seconds, "clip": str(self.clip), "detector": self.detector,
                "alone": self.alone.to_json_dict(), "beside": self.beside.to_json_dict()}


def isolation_site(cameras: dict[str, tuple[Path, str, bool]], folder: Path) -> SiteConfig:
    """Looping cameras (name: (clip, tile mode, second look)) at 5 fps, motion gating off; store and evidence
    in `folder`."""
    return SiteConfig.model_validate({
        "cameras": {name: {"url": str(path), "loop": True,
                           "detect": {"fps": DETECT_FPS, "tiles": tiles, "second_look": second_look}}
                    for name, (path, tiles, second_look) in cameras.items()},
        "motion": {"enabled": False},
        "evidence": {"folder": str(folder / "evidence"), "pre_roll_s": 2, "post_roll_s": 2},
        "store": {"url": f"sqlite:///{folder / 'events.db'}"},
    })


class OpenedEvents:
    """on_event: the cheap camera's events as they open."""

    def __init__(self) -> None:
        self.opened: set[str] = set()

    def __call__(self, event: ThreatEvent) -> None:
        if event.camera == CHEAP and event.state == "open":
            self.opened.add(event.id)


def measure(case: str, site: SiteConfig, analyzer: TimedAnalyzer, seconds: float) -> IsolationRow:
    """Run the site for `seconds` from its start; the cheap camera's counts, and the other's if any."""
    events = OpenedEvents()
    with running_service(site, analyzer, events) as service:
        time.sleep(seconds)  # the cameras run on their own threads meanwhile
        rows = {row.camera: row for row in service.status()}
        latencies = list(runner_of(service, CHEAP).latencies)
        opened = len(events.opened)
    other = rows.get(EXPENSIVE)
    return IsolationRow(case, seconds, rows[CHEAP].analysed, opened, Spread.of(latencies),
                        other.analysed if other else None, other.infer_ms if other else None)


def runner_of(service: WatchService, camera: str) -> CameraRunner:
    return next(runner for runner in service.runners if runner.loop.name == camera)


def warm_up(analyzer: TimedAnalyzer) -> None:
    """One call per kind of frame first: the runtime's first runs allocate, and would be charged to a run."""
    analyzer.analyse([AnalysisRequest(np.zeros((360, 640, 3), np.uint8), "off")])
    analyzer.analyse([AnalysisRequest(np.zeros((HD.height, HD.width, 3), np.uint8), "on")])


def run_isolation_bench(settings: IsolationSettings, progress: Callable[[str], None] = lambda _: None
                        ) -> IsolationBench:
    _, threads = detector_parallelism(DetectorSettings(threads=settings.threads))
    detector = load_detector(settings.model, threads=threads, spinning=False, verifier=settings.verifier,
                             max_input=settings.max_input)
    analyzer = TimedAnalyzer(detector, input_side(detector))
    warm_up(analyzer)
    clip = settings.cheap_clip
    with tempfile.TemporaryDirectory(prefix="gunwatch-bench-isolation-") as temp:
        folder = Path(temp)
        progress(f"making the {HD.width}x{HD.height} clip")
        hd = make_static_clip(folder / "hd.mp4", HD_CLIP_S, HD_CLIP_S / 2, fmt=HD)
        progress(f"alone: {clip.name} for {settings.seconds:g} s")
        alone = measure("alone", isolation_site({CHEAP: (clip, "off", False)}, folder / "alone"), analyzer,
                        settings.seconds)
        progress(f"beside a {HD.height}p camera with tiles on: {settings.seconds:g} s")
        site = isolation_site({CHEAP: (clip, "off", False), EXPENSIVE: (hd, "on", True)}, folder / "beside")
        beside = measure(f"beside a {HD.height}p camera, tiles on", site, analyzer, settings.seconds)
    return IsolationBench(settings, clip, alone, beside, detector.name)
