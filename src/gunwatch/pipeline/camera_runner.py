"""One camera's thread: its loop's steps in order, the detector's answer for its own frame, changes handed on.

The thread waits only on its own things: its next frame being due, its source's next frame, and the
detector service's answer for its own frame (where fair shares keep another camera's expensive frames from
taking this one's turn: `fair_share`). Every write goes to a writer's queue (`store_writer`,
`evidence_writer`), which never blocks, so a slow disk or store never holds up this camera's analysis.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque

from gunwatch.events.model import Evidence
from gunwatch.pipeline.camera_loop import CameraLoop
from gunwatch.pipeline.detector_service import DetectorClosed, DetectorService, DetectorStuck
from gunwatch.pipeline.evidence_writer import EvidenceWriter
from gunwatch.pipeline.store_writer import StoreWriter
from gunwatch.video.frame import Frame

log = logging.getLogger(__name__)

# At most this long between two ticks, so events close on time and clips are collected while the camera is
# silent (an unplugged camera sends no frame to wake its thread).
TICK_EVERY_S = 0.1
LATENCIES_KEPT = 1000


class CameraRunner:
    def __init__(self, loop: CameraLoop, detector: DetectorService, store: StoreWriter, evidence: EvidenceWriter,
                 stop: threading.Event) -> None:
        self.loop, self.source, self.detector = loop, loop.source, detector
        self.store, self.evidence, self.stop = store, evidence, stop
        # Seconds from a frame's arrival to its detections back: what the camera's analysis waited for.
        self.latencies: deque[float] = deque(maxlen=LATENCIES_KEPT)
        # Monotonic time the thread last went round its loop: a watchdog's sign that it is alive (a step waits
        # at most for its detector call, which the watchdog abandons when it hangs).
        self.last_round = time.monotonic()
        self._halted = threading.Event()  # this camera alone stops (a reload removed it); `stop` stops them all
        self._thread = threading.Thread(target=self._run, name=f"camera {loop.name}", daemon=True)

    def start(self) -> CameraRunner:
        self._thread.start()
        return self

    def halt(self) -> None:
        """Stop this camera's thread only (at its next round: a detector call running is answered first)."""
        self._halted.set()

    def join(self, timeout: float | None = None) -> bool:
        """Whether the thread ended within `timeout` (call `stop.set()` first)."""
        self._thread.join(timeout)
        return not self._thread.is_alive()

    @property
    def alive(self) -> bool:
        return self._thread.is_alive()

    def _run(self) -> None:
        while not self.stop.is_set() and not self._halted.is_set():
            self.last_round = time.monotonic()
            try:
                analysed = self.step(time.time())
            except Exception:  # one camera's bad frame or bug must not end its watch
                log.exception("camera %s: a step failed; going on with the next frame", self.loop.name,
                              extra={"camera": self.loop.name})
                analysed = False
            if not analysed:
                self._pause()

    def step(self, now: float) -> bool:
        """Take the frame due now (if any), analyse it, confirm; close quiet events; collect clips. Whether a
        frame was analysed."""
        frame = self.loop.take(now)
        analysed = frame is not None and self._analyse(frame)
        for event in self.loop.tick(time.time()):
            self.store.event_changed(event)
        for clip in self.loop.clips(time.time()):
            self.store.files_written(clip.event, Evidence(clip=str(clip.path)), notify=True)
        return analysed

    def _analyse(self, frame: Frame) -> bool:
        try:
            answer = self.detector.submit(self.loop.name, self.loop.request(frame)).result()
        except DetectorClosed:
            return False
        except DetectorStuck as error:  # the watchdog gave the call up: this camera goes on with its next frame
            log.warning("camera %s: frame %d not analysed: %s", self.loop.name, frame.index, error,
                        extra={"camera": self.loop.name})
            return False
        except Exception as error:  # the service logged it with its batch
            log.error("camera %s: frame %d not analysed: %s", self.loop.name, frame.index, error,
                      extra={"camera": self.loop.name})
            return False
        self.latencies.append(time.time() - frame.received)
        finished = self.loop.finish(frame, answer.detections, 1000 * answer.share_s)
        for event in finished.changes:
            self.store.event_changed(event)
            if event.state in ("open", "updated"):  # made by this frame: the event's best one so far
                self.evidence.event_grew(event, frame, finished.shown)  # only the boxes that count are drawn
        return True

    def _pause(self) -> None:
        until_due = self.loop.next_due - time.time()
        if until_due > 0 or not self.source.running:  # a recording that ended still ticks: its events close
            self.stop.wait(min(until_due, TICK_EVERY_S) if until_due > 0 else TICK_EVERY_S)
        else:  # due: wake as the source's next frame comes
            self.source.wait(self.loop.last_index, TICK_EVERY_S)
