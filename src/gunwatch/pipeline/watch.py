"""The live pipeline: every camera of a site through one shared detector, threat events stored as they happen.

Each camera runs on a thread of its own (`camera_runner`): it samples its newest frame when due, submits it to
the detector service (`detector_service`: batches across cameras, fair shares of the detector's time) and
confirms what comes back; its source decodes on another thread. Event versions go to the store writer
(`store_writer`, one thread: an event's changes committed in order, then `on_event`), snapshots to the
evidence writer (`evidence_writer`, then `on_evidence`), clips to one shared encoder (`clip_encoder`). A camera
never waits on another camera's frames, nor on a disk or the store: a slow one holds up only its own thread.
What hangs for good (a reader, a detector call, the encoder) is restarted by the watchdog (`watchdog`).
"""

from __future__ import annotations

import dataclasses
import logging
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass

from gunwatch.config.camera import Camera
from gunwatch.config.redact import redact_url
from gunwatch.config.sections import detector_parallelism
from gunwatch.config.site import SiteConfig
from gunwatch.events.model import Evidence, ThreatEvent
from gunwatch.events.store import EventStore
from gunwatch.pipeline.analysis import FrameAnalyzer
from gunwatch.pipeline.camera_loop import CameraLoop
from gunwatch.pipeline.camera_runner import CameraRunner
from gunwatch.pipeline.clip_encoder import ClipEncoder
from gunwatch.pipeline.detector_service import DetectorService
from gunwatch.pipeline.evidence_writer import EvidenceWriter
from gunwatch.pipeline.store_writer import StoreWriter
from gunwatch.pipeline.write_queue import WriterStats, guarded
from gunwatch.video.health import HealthChange
from gunwatch.video.sources import camera_source

log = logging.getLogger(__name__)

EventListener = Callable[[ThreatEvent], None]
HealthListener = Callable[[HealthChange], None]
RUN_CHECK_S = 0.1  # how often `run` looks whether its duration is over or the recordings ended
JOIN_TIMEOUT_S = 10.0  # a camera thread ends once its detector call is answered
DRAIN_TIMEOUT_S = 30.0  # at close, writes still queued get this long (a store that hangs must not hang the exit)


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
    restarts: int = 0  # the watchdog's restarts of its reader, of detector calls with its frames, of its clips
    top_score: float = 0.0  # the highest gun score of the last few seconds, whether it reached the threshold or not
    threshold: float = 0.0  # the score a gun must reach to count on this camera
    sampled: int = 0  # frames taken on schedule, counted when taken (analysed and still count when done)


class WatchService:
    def __init__(self, site: SiteConfig, analyzer: FrameAnalyzer, store: EventStore | None = None,
                 on_event: EventListener | None = None, on_health: HealthListener | None = None,
                 gun_class_id: int | None = None, on_evidence: EventListener | None = None):
        """`on_event` hears every event change as soon as it is stored; `on_evidence` hears events that
        opened or grew once their snapshot is written (alerts, which attach it). Both are called on the
        writers' threads, never on a camera's."""
        self.site, self.analyzer, self.store = site, analyzer, store
        self.on_health = on_health
        names = analyzer.class_names
        self.gun_class_id = gun_class_id if gun_class_id is not None else names.index("handgun")
        # Several detector calls at once, each on few threads, keep the cores busier than one call spread
        # over all of them; and one camera's long call (tiles on 1080p) takes one worker, not all.
        workers, _ = detector_parallelism(site.detector)
        self.detector = DetectorService(analyzer, workers, site.detector.max_batch)
        self.store_writer = StoreWriter(store, on_event)
        self.evidence_writer = EvidenceWriter(site.evidence.folder, names, self.store_writer, on_evidence,
                                              alert_wait_s=site.evidence.alert_wait_s)
        # One encoder thread for every camera's clips: encoding never takes more than a core from inference.
        self.encoder = ClipEncoder()
        self.loops: list[CameraLoop] = []
        self.runners: list[CameraRunner] = []
        self.stop_event = threading.Event()
        self.restarts: Counter[str] = Counter()  # by camera, counted by the watchdog

    # --- life cycle ----------------------------------------------------------------------------------

    def start(self) -> WatchService:
        self.store_writer.start()
        self.evidence_writer.start()
        self.detector.start()
        for name, camera in self.site.enabled_cameras.items():
            self._open_camera(name, camera)
        for runner in self.runners:
            runner.start()
        return self

    def _open_camera(self, name: str, camera: Camera, adopt: ThreatEvent | None = None) -> CameraRunner:
        """Its source started, its loop and runner made (not started) and listed; `adopt`: its open event,
        continued (see `ThreatConfirmer.adopt`)."""
        self.store_writer.camera_added(name, camera.url, camera.kind)
        source = camera_source(name, camera, self.site.health, on_health=self._health)
        loop = CameraLoop(name, camera, source, self.site, self.analyzer.threshold, self.analyzer.class_names,
                          self.gun_class_id, self.encoder)
        if adopt is not None:
            loop.confirmer.adopt(adopt, time.time())
        runner = CameraRunner(loop, self.detector, self.store_writer, self.evidence_writer, self.stop_event)
        # New lists, never appended to: the watchdog, the status line and the console iterate them meanwhile.
        self.loops, self.runners = [*self.loops, loop], [*self.runners, runner]
        source.start()
        log.info("camera %s: watching %s (%s, %g fps analysed)", name, redact_url(camera.url), camera.kind,
                 camera.detect.fps, extra={"camera": name})
        return runner

    # --- cameras while watching (a reload) -----------------------------------------------------------

    def add_camera(self, name: str, camera: Camera, adopt: ThreatEvent | None = None) -> None:
        """A camera started while the others run (built with `self.site`'s sections); `adopt`: its event left
        open by its previous holder, continued under the same id."""
        self._open_camera(name, camera, adopt).start()

    def remove_camera(self, name: str, why: str, stopped: bool = True, handed_over: bool = False) -> None:
        """One camera's thread and source stopped, its clips finished, its open event closed (no frame of it
        comes any more); the others are not touched. `stopped`: its state in the store becomes `stopped`.
        `handed_over`: the camera is another holder's now (a lost lease): nothing more of its event is written,
        neither the close nor its clips' files (the new holder continues the event; a late write here could
        overwrite its versions)."""
        runner = next(runner for runner in self.runners if runner.loop.name == name)
        loop = runner.loop
        self.loops = [other for other in self.loops if other is not loop]
        self.runners = [other for other in self.runners if other is not runner]
        runner.halt()
        if not runner.join(JOIN_TIMEOUT_S):
            log.error("camera %s: its thread did not end", name, extra={"camera": name})
        event = loop.confirmer.event
        if event is not None and not handed_over:
            self.store_writer.event_changed(dataclasses.replace(event, state="closed", closed_at=time.time()))
        for clip in loop.close():
            if handed_over:
                log.warning("camera %s: clip %s of event %s not recorded: %s", name, clip.path, clip.event.id, why,
                            extra={"camera": name, "event": clip.event.id})
            else:
                self.store_writer.files_written(clip.event, Evidence(clip=str(clip.path)), notify=True)
        self.detector.forget(name)
        self.restarts.pop(name, None)
        if stopped:
            self.report_health(HealthChange(name, "stopped", why, time.time()))
        log.info("camera %s: stopped: %s", name, why, extra={"camera": name})

    def run(self, duration_s: float | None = None, until_sources_end: bool = False) -> None:
        """Until stopped, until `duration_s` has passed, or (recordings) until every source has ended; the
        cameras run on their own threads meanwhile."""
        started = time.time()
        ended_at: float | None = None
        while not self.stop_event.wait(RUN_CHECK_S):
            if duration_s is not None and time.time() - started >= duration_s:
                break
            if until_sources_end and not any(loop.source.running for loop in self.loops):
                # The recordings are over: let open events close as they would live, then stop.
                ended_at = ended_at or time.time()
                still_open = any(loop.confirmer.event is not None for loop in self.loops)
                if not still_open or time.time() - ended_at > self.site.confirmation.close_after_s + 1:
                    break

    def stop(self) -> None:
        self.stop_event.set()

    def close(self) -> None:
        """Stop the cameras, the sources and the detector; finish clips; write what is queued. Events still
        open stay open in the store: the gun was still in view when watching stopped."""
        self.stop_event.set()
        self.detector.close(JOIN_TIMEOUT_S)  # a camera waiting for a frame that never ran is woken
        for runner in self.runners:
            if not runner.join(JOIN_TIMEOUT_S):
                log.error("camera %s: its thread did not end", runner.loop.name, extra={"camera": runner.loop.name})
        # Clips still being written get DRAIN_TIMEOUT_S: an encoder that hangs must not hang the exit.
        deadline = threading.Timer(DRAIN_TIMEOUT_S, self.encoder.give_up, ("not written when the watch stopped",))
        deadline.daemon = True
        deadline.start()
        for loop in self.loops:
            for clip in loop.close():
                self.store_writer.files_written(clip.event, Evidence(clip=str(clip.path)), notify=True)
        deadline.cancel()
        self.encoder.shutdown(wait=True)
        self.evidence_writer.close(DRAIN_TIMEOUT_S)  # before the store's: it hands its files to the store writer
        self.store_writer.close(DRAIN_TIMEOUT_S)

    def writers(self) -> list[WriterStats]:
        """How far behind the writers are (a watchdog's view)."""
        return [self.store_writer.stats(), self.evidence_writer.stats()]

    def _health(self, change: HealthChange) -> None:
        """Called on a source's own thread: queued for the store, never waiting on it."""
        self.report_health(change)

    def report_health(self, change: HealthChange) -> None:
        """A camera's health change, from its source or the watchdog: to the store and `on_health`."""
        self.store_writer.camera_health(change)
        if self.on_health is not None:
            guarded(self.on_health, change)

    # --- status --------------------------------------------------------------------------------------

    def status(self) -> list[CameraStatus]:
        rows = []
        for loop in self.loops:
            stats = loop.source.stats()
            counters = loop.counters
            rows.append(CameraStatus(loop.name, stats.state or "starting", stats.reason, stats.frames_in,
                                     stats.dropped, counters.analysed, counters.still, counters.infer_ms,
                                     counters.events, self.restarts[loop.name], loop.recent.rates().top_score,
                                     loop.confirmer.threshold, counters.sampled))
        return rows
