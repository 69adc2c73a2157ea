"""`gunwatch bench pipeline`: the live pipeline's latency and how many cameras it keeps up with.

Real parts only, as `gunwatch watch` runs them: file cameras decoded by PyAV at their own pace, the
shipped detector shared by every camera, motion gating, confirmation (the default rule),
evidence and a SQLite store, all in a temp folder. The cameras play clips made on the fly from the
repository's sample images (`pipeline_clips`), 1280x720 at 15 fps, analysed at 5 fps:

1. latency (`pipeline_latency`): several cameras loop a gun clip; first gun frame -> event committed;
2. capacity (`pipeline_capacity`): N cameras of a mostly static scene, gating on and off.

The default run takes 4-5 minutes: clips ~25 s, latency ~40 s (up to ~100 s when events are slow to come),
12 capacity runs of ~14 s.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from gunwatch.bench.pipeline_capacity import CapacityRow, measure_capacity
from gunwatch.bench.pipeline_clips import ClipFormat, GunClip, make_gun_clip, make_static_clip
from gunwatch.bench.pipeline_latency import LatencyResult, measure_latency
from gunwatch.bench.pipeline_service import SiteOptions, TimedAnalyzer
from gunwatch.config.sections import DetectorSettings, detector_parallelism
from gunwatch.inference.loading import load_detector
from gunwatch.inference.tiling import TileMode
from gunwatch.pipeline.analysis import AnalysisRequest
from gunwatch.pipeline.watch_command import input_side

# The latency clip: quiet, gun, quiet; camera i waits LEAD_STEP_S longer before its gun, so the cameras'
# appearances start staggered and, the passes differing in length, keep drifting apart.
LEAD_S, GUN_S, TAIL_S, LEAD_STEP_S = 2.0, 2.0, 2.0, 0.5
CLOSE_AFTER_S = 1.0  # the event closes while the quiet scenes play: one event per appearance
# The static clip: one walk across per pass; variants walk at different times so bursts do not coincide.
STATIC_S, STATIC_VARIANTS = 10.0, 4


@dataclass(frozen=True)
class PipelineBenchSettings:
    cameras: tuple[int, ...] = (1, 2, 4, 8, 12, 16)  # capacity: camera counts
    seconds: float = 10.0  # capacity: measured window per run
    samples: int = 20  # latency: events to collect
    latency_cameras: int = 4
    tiles: TileMode = "off"  # the cameras' default; in auto, 720p is tiled (longer side > 2 model inputs)
    clip: ClipFormat = field(default_factory=ClipFormat)
    warmup_s: float = 3.0
    model: Path | None = None  # None: the shipped detector
    threads: int | None = None  # detector threads per call (None: as `gunwatch watch`, 1 with a call per core)
    walk_every_s: float = STATIC_S  # capacity: the static scene's figure walks across once per this many seconds
    verifier: str = "auto"  # as `gunwatch watch` runs it by default (see inference.loading.resolve_verifier)
    max_input: int | None = DetectorSettings().max_input_size  # frame-shaped input, as `detector.max_input_size`

    def __post_init__(self) -> None:
        if not self.cameras or min(self.cameras) < 1 or self.samples < 1 or self.latency_cameras < 1:
            raise ValueError("camera counts, samples and latency cameras must be >= 1")
        if self.walk_every_s < 3:
            raise ValueError(f"the figure takes 1.5 s to cross: walk_every_s must be >= 3, got {self.walk_every_s:g}")
        if self.seconds <= 0:
            raise ValueError(f"seconds must be > 0, got {self.seconds:g}")

    @property
    def latency_timeout_s(self) -> float:
        # Each camera yields one sample per pass: twice the expected time, plus start-up.
        longest = LEAD_S + (self.latency_cameras - 1) * LEAD_STEP_S + GUN_S + TAIL_S
        return 2 * longest * (self.samples / self.latency_cameras + 1) + 10


@dataclass(frozen=True)
class PipelineBench:
    settings: PipelineBenchSettings
    latency: LatencyResult
    capacity: list[CapacityRow]
    detector: str  # the detector's name as loaded (with "+verifier" when one judges its candidates)

    def largest_keeping_up(self, gating: bool) -> int | None:
        counts = [row.cameras for row in self.capacity if row.gating == gating and row.keeps_up]
        return max(counts, default=None)

    def to_json_dict(self) -> dict[str, object]:
        latency = self.latency
        return {
            "settings": {**asdict(self.settings), "model": str(self.settings.model) if self.settings.model else None},
            "latency": {
                "cameras": latency.cameras, "appearances": latency.appearances, "missed": latency.missed,
                "extra_events": [asdict(e) for e in latency.extra_events], "seconds": latency.seconds,
                "total_s": asdict(latency.total), "confirmation_s": asdict(latency.confirmation),
                "processing_s": asdict(latency.processing),
                "samples": [{**asdict(s), "total_s": s.total_s} for s in latency.samples],
            },
            "capacity": [row.to_json_dict() for row in self.capacity],
            "detector": self.detector,
            "largest_keeping_up": {"gating_on": self.largest_keeping_up(True),
                                   "gating_off": self.largest_keeping_up(False)},
        }


def make_clips(folder: Path, settings: PipelineBenchSettings) -> tuple[dict[str, GunClip], list[Path]]:
    """The latency cameras' gun clips (by camera name) and the static clip's variants."""
    gun = {
        f"gun{i + 1:02d}": make_gun_clip(folder / f"gun{i + 1:02d}.mp4", LEAD_S + i * LEAD_STEP_S, GUN_S, TAIL_S,
                                         settings.clip)
        for i in range(settings.latency_cameras)
    }
    variants = min(STATIC_VARIANTS, max(settings.cameras))
    static = [
        make_static_clip(folder / f"static{v + 1}.mp4", settings.walk_every_s,
                         (v + 0.5) * settings.walk_every_s / variants, fmt=settings.clip)
        for v in range(variants)
    ]
    return gun, static


def warm_up(analyzer: TimedAnalyzer, settings: PipelineBenchSettings) -> None:
    """One call first: the runtime's first run allocates, and would be charged to the first measurement."""
    frame = np.zeros((settings.clip.height, settings.clip.width, 3), np.uint8)
    analyzer.analyse([AnalysisRequest(frame, settings.tiles)])


def run_pipeline_bench(settings: PipelineBenchSettings, progress: Callable[[str], None] = lambda _: None
                       ) -> PipelineBench:
    # As `gunwatch watch` loads it: one thread per call, one call at once per core.
    _, threads = detector_parallelism(DetectorSettings(threads=settings.threads))
    detector = load_detector(settings.model, threads=threads, spinning=False, verifier=settings.verifier,
                             max_input=settings.max_input)
    analyzer = TimedAnalyzer(detector, input_side(detector))
    warm_up(analyzer, settings)
    with tempfile.TemporaryDirectory(prefix="gunwatch-bench-pipeline-") as temp:
        folder = Path(temp)
        progress(f"making clips ({settings.clip.width}x{settings.clip.height}, {settings.clip.fps:g} fps)")
        gun, static = make_clips(folder, settings)
        progress(f"latency: {settings.latency_cameras} cameras until {settings.samples} events")
        options = SiteOptions(settings.tiles, gating=True, close_after_s=CLOSE_AFTER_S)
        latency = measure_latency(analyzer, gun, folder / "latency", settings.samples, options,
                                  settings.latency_timeout_s)
        rows = []
        for count in settings.cameras:
            for gating in (True, False):  # interleaved: a drift in the machine's load touches both alike
                progress(f"capacity: {count} cameras, gating {'on' if gating else 'off'}")
                run_folder = folder / f"capacity-{count}-{'on' if gating else 'off'}"
                rows.append(measure_capacity(analyzer, static, count, run_folder, SiteOptions(settings.tiles, gating),
                                             settings.seconds, settings.warmup_s))
    return PipelineBench(settings, latency, rows, detector.name)
