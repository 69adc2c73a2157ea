"""The live pipeline: every camera of a site through one detector, threat events stored as they happen.

One thread runs the cycle below; each camera's source decodes in a thread of its own. Per cycle, the
cameras that are due give their newest frame (older ones were dropped: no backlog), prepared on a pool
as wide as the cores; frames with motion (or due a forced check) are analysed in batches, several
detector calls at once; confirmation turns hits into threat events, and every event change is committed
to the store before anything slower (snapshots, clips) happens. A camera is in one batch per cycle, so
its state is only ever touched by one thread at a time.
"""

from __future__ import annotations

import logging
import math
import os
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import TypeVar

from gunwatch.config.redact import redact_url
from gunwatch.config.sections import detector_parallelism
from gunwatch.config.site import SiteConfig
from gunwatch.events.model import ThreatEvent
from gunwatch.events.store import EventStore
from gunwatch.inference.detections import Detections
from gunwatch.pipeline.analysis import FrameAnalyzer
from gunwatch.pipeline.camera_loop import CameraLoop
from gunwatch.video.frame import Frame
from gunwatch.video.health import HealthChange
from gunwatch.video.sources import camera_source

log = logging.getLogger(__name__)

EventListener = Callable[[ThreatEvent], None]
HealthListener = Callable[[HealthChange], None]
T = TypeVar("T")
IDLE_SLEEP_S = 0.005  # nothing due: wait this long before looking again


@dataclass(frozen=True)
class CameraStatus:
    """One row of the live status line."""

    camera: str
    state: str
    reason: str
    frames_in: int
    dropped: int
    analysed: int
    still: int
    infer_ms: float
    events: int


def split_batches(items: list[T], max_batch: int, parallel: int) -> list[list[T]]:
    """`items` in batches of at most `max_batch`, and in at least `parallel` of them while there are enough
    items, sized evenly: 5 frames for 2 calls at once are batches of 3 and 2."""
    if not items:
        return []
    count = max(math.ceil(len(items) / max_batch), min(parallel, len(items)))
    size, extra = divmod(len(items), count)
    batches, start = [], 0
    for index in range(count):
        end = start + size + (index < extra)
        batches.append(items[start:end])
        start = end
    return batches


class WatchService:
    def __init__(self, site: SiteConfig, analyzer: FrameAnalyzer, store: EventStore | None = None,
                 on_event: EventListener | None = None, on_health: HealthListener | None = None,
                 gun_class_id: int | None = None, on_evidence: EventListener | None = None):
        """`on_event` hears every event change as soon as it is stored; `on_evidence` hears events that
        opened or grew once their snapshot is written (alerts, which attach it)."""
        self.site, self.analyzer, self.store = site, analyzer, store
        self.on_event, self.on_health, self.on_evidence = on_event, on_health, on_evidence
        names = analyzer.class_names
        self.gun_class_id = gun_class_id if gun_class_id is not None else names.index("handgun")
        # One encoder thread for every camera's clips: encoding never takes more than a core from inference.
        self.encoder = ThreadPoolExecutor(max_workers=1, thread_name_prefix="clips")
        # Preparing the due frames (evidence copy, motion gate, RGB for the analysed ones) is per camera and
        # mostly outside the GIL (FFmpeg's scaler, numpy): spread over the cores, not queued on one thread.
        self.preparers = ThreadPoolExecutor(max_workers=os.cpu_count() or 1, thread_name_prefix="prepare")
        # Several detector calls at once, each on few threads, keep the cores busier than one call spread
        # over all of them: a small batch leaves a multi-threaded call waiting on its slowest operator.
        self.parallel, _ = detector_parallelism(site.detector)
        self.inference = ThreadPoolExecutor(max_workers=self.parallel, thread_name_prefix="detect")
        self.loops: list[CameraLoop] = []
        self.stop_event = threading.Event()

    # --- life cycle ----------------------------------------------------------------------------------

    def start(self) -> WatchService:
        for name, camera in self.site.enabled_cameras.items():
            if self.store is not None:
                self._guarded(self.store.upsert_camera, name, camera.url, camera.kind)
            source = camera_source(name, camera, self.site.health, on_health=self._health)
            loop = CameraLoop(name, camera, source, self.site, self.analyzer.threshold, self.analyzer.class_names,
                              self.gun_class_id, self.encoder)
            self.loops.append(loop)
            source.start()
            log.info("camera %s: watching %s (%s, %g fps analysed)", name, redact_url(camera.url), camera.kind,
                     camera.detect.fps)
        return self

    def run(self, duration_s: float | None = None, until_sources_end: bool = False) -> None:
        """Cycle until stopped, until `duration_s` has passed, or (recordings) until every source has ended."""
        started = time.time()
        ended_at: float | None = None
        while not self.stop_event.is_set():
            worked = self.cycle(time.time())
            if duration_s is not None and time.time() - started >= duration_s:
                break
            if until_sources_end and not any(loop.source.running for loop in self.loops):
                # The recordings are over: let open events close as they would live, then stop.
                ended_at = ended_at or time.time()
                still_open = any(loop.confirmer.event is not None for loop in self.loops)
                if not still_open or time.time() - ended_at > self.site.confirmation.close_after_s + 1:
                    break
            if not worked:
                self.stop_event.wait(IDLE_SLEEP_S)

    def stop(self) -> None:
        self.stop_event.set()

    def close(self) -> None:
        """Stop the sources and finish clips (saved with their events). Events still open stay open in the
        store: the gun was still in view when watching stopped."""
        for loop in self.loops:
            self._publish(loop.close())
        self.encoder.shutdown(wait=True)
        self.preparers.shutdown(wait=True)
        self.inference.shutdown(wait=True)

    # --- one cycle -----------------------------------------------------------------------------------

    def cycle(self, now: float) -> bool:
        """Analyse the frames that are due; returns whether there was any."""
        due = [loop for loop in self.loops if loop.due(now)]

        def take(loop: CameraLoop) -> Frame | None:
            try:
                return loop.take(now)
            except Exception:  # one camera's bad frame must not stop the others (nor this cycle)
                log.exception("camera %s: preparing a frame failed; skipped", loop.name)
                return None

        prepared = self.preparers.map(take, due) if len(due) > 1 else map(take, due)
        taken = [(loop, frame) for loop, frame in zip(due, prepared, strict=True) if frame is not None]
        batches = split_batches(taken, self.site.detector.max_batch, self.parallel)
        if len(batches) > 1:
            list(self.inference.map(self._analyse, batches))  # each batch's cameras are its own
        elif batches:
            self._analyse(batches[0])
        for loop in self.loops:
            try:
                self._publish(loop.tick(time.time()))
            except Exception:
                log.exception("camera %s: closing events or finishing clips failed", loop.name)
        return bool(taken)

    def _analyse(self, batch: list[tuple[CameraLoop, Frame]]) -> None:
        began = time.perf_counter()
        try:
            found = self.analyzer.analyse([loop.request(frame) for loop, frame in batch])
        except Exception:  # one bad frame or a runtime hiccup must not end the watch
            log.exception("detector failed on a batch of %d frames (%s)", len(batch),
                          ", ".join(loop.name for loop, _ in batch))
            return
        per_frame_ms = (time.perf_counter() - began) * 1000 / len(batch)
        for (loop, frame), detections in zip(batch, found, strict=True):
            try:
                changes = loop.finish(frame, detections, per_frame_ms)
                self._publish(changes)  # stored first: the alert path must not wait for JPEG encoding
                self._snapshot(loop, changes, frame, detections)
            except Exception:  # a bug in one camera's confirmation or evidence must not stop the others
                log.exception("camera %s: handling the detections of frame %d failed", loop.name, frame.index)

    def _snapshot(self, loop: CameraLoop, changes: list[ThreatEvent], frame: Frame, detections: Detections) -> None:
        grown = [event for event in changes if event.state in ("open", "updated")]
        for event in grown:
            loop.snapshot(event, frame, detections)
        if self.on_evidence is not None:  # first: the alert path waits for the JPEG, not for another commit
            for event in grown:
                self._guarded(self.on_evidence, event)
        self._publish(grown, notify=False)  # the same events again, now with their snapshot paths

    def _publish(self, changes: list[ThreatEvent], notify: bool = True) -> None:
        for event in changes:
            if self.store is not None:
                self._guarded(self.store.save_event, event)
            if notify and self.on_event is not None:
                self._guarded(self.on_event, event)

    def _health(self, change: HealthChange) -> None:
        """Called on a source's own thread."""
        if self.store is not None:
            self._guarded(self.store.record_health, change.camera, change.state, change.reason, change.at)
        if self.on_health is not None:
            self._guarded(self.on_health, change)

    @staticmethod
    def _guarded(call: Callable[..., object], *args: object) -> None:
        # A store outage or a listener's bug is logged, never allowed to stop the cameras.
        try:
            call(*args)
        except Exception:
            log.exception("%s failed", getattr(call, "__name__", call))

    # --- status --------------------------------------------------------------------------------------

    def status(self) -> list[CameraStatus]:
        rows = []
        for loop in self.loops:
            stats = loop.source.stats()
            counters = loop.counters
            rows.append(CameraStatus(loop.name, stats.state or "starting", stats.reason, stats.frames_in,
                                     stats.dropped, counters.analysed, counters.still, counters.infer_ms,
                                     counters.events))
        return rows
