"""The parts every pipeline-benchmark run shares: a site of looping file cameras, a timed analyzer, and a
watch service run in the background that is always stopped and closed."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from gunwatch.config.site import SiteConfig
from gunwatch.events.model import ThreatEvent
from gunwatch.events.store import EventStore
from gunwatch.inference.base import Detector
from gunwatch.inference.detections import Detections
from gunwatch.inference.tiling import TileMode
from gunwatch.pipeline.analysis import AnalysisRequest, FrameAnalyzer
from gunwatch.pipeline.watch import WatchService

DETECT_FPS = 5.0
JOIN_TIMEOUT_S = 10.0  # a cycle (one batch of inference) ends long before this


@dataclass(frozen=True)
class SiteOptions:
    tiles: TileMode = "off"
    gating: bool = True
    close_after_s: float = 10.0


def bench_site(videos: dict[str, Path], folder: Path, options: SiteOptions) -> SiteConfig:
    """Every video a looping camera analysed at 5 fps; store and evidence in `folder` (a temp folder)."""
    cameras = {
        name: {"url": str(path), "loop": True, "detect": {"fps": DETECT_FPS, "tiles": options.tiles}}
        for name, path in videos.items()
    }
    return SiteConfig.model_validate({
        "cameras": cameras,
        "confirmation": {"close_after_s": options.close_after_s},  # the default rule (2 of the last 3)
        "motion": {"enabled": options.gating},
        # Short rolls: clips are still encoded (a real load), but a run's close does not wait long for them.
        "evidence": {"folder": str(folder / "evidence"), "pre_roll_s": 2, "post_roll_s": 2},
        "store": {"url": f"sqlite:///{folder / 'events.db'}"},
    })


class TimedAnalyzer(FrameAnalyzer):
    """The pipeline's analyzer, counting detector calls, frames and seconds spent in them.

    The service may call it from several threads at once; the totals are kept under a lock.
    """

    def __init__(self, detector: Detector, input_side: int):
        super().__init__(detector, input_side)
        self._counting = threading.Lock()
        self.calls = 0
        self.frames = 0
        self.seconds = 0.0

    def analyse(self, requests: list[AnalysisRequest]) -> list[Detections]:
        began = time.perf_counter()
        try:
            return super().analyse(requests)
        finally:
            with self._counting:  # the service may run several calls at once
                self.seconds += time.perf_counter() - began
                self.calls += 1
                self.frames += len(requests)


@contextmanager
def running_service(site: SiteConfig, analyzer: FrameAnalyzer,
                    on_event: Callable[[ThreatEvent], None] | None = None) -> Iterator[WatchService]:
    """The service started (each camera on its own thread) and its `run` on another; stopped, closed
    (cameras, sources, clips, writers) and its store closed on leaving, also when the benchmark fails or is
    interrupted."""
    store = EventStore(site.store.url)
    service = WatchService(site, analyzer, store, on_event)
    runner = threading.Thread(target=service.run, name="bench-watch", daemon=True)
    try:
        service.start()
        runner.start()
        yield service
    finally:
        service.stop()
        if runner.is_alive():
            runner.join(JOIN_TIMEOUT_S)
        service.close()
        store.close()
