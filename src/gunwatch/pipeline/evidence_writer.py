"""Snapshots of events that opened or grew, written on one thread of their own: the best frame as JPEGs.

After the JPEGs (clean and annotated), the event's new version naming them goes to `on_evidence` (alerts attach
the snapshot) and then to the store writer. An alert waits for its JPEG at most `alert_wait_s`: later, the event
goes to `on_evidence` without it, and again with it once written (`alert_hand_on`), so a slow or hung disk
never holds an alert back. A job holds a whole frame, so the queue is short; when it is full the snapshot is
skipped (logged) and the event goes to `on_evidence` at once without one.
"""

from __future__ import annotations

import dataclasses
import itertools
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from gunwatch.events.evidence import write_snapshots
from gunwatch.events.model import Evidence, ThreatEvent
from gunwatch.inference.detections import Detections
from gunwatch.pipeline.alert_hand_on import AlertHandOn
from gunwatch.pipeline.store_writer import StoreWriter
from gunwatch.pipeline.write_queue import WriteQueue, WriterStats
from gunwatch.video.frame import Frame

log = logging.getLogger(__name__)
EventListener = Callable[[ThreatEvent], None]
CAPACITY = 32  # frames: about 200 MB of 1080p at most
ALERT_WAIT_S = 0.5  # the default of `evidence.alert_wait_s`


@dataclass(frozen=True)
class _Snapshot:
    token: int  # names the write to the hand-on
    event: ThreatEvent
    frame: Frame
    detections: Detections


class EvidenceWriter:
    def __init__(self, folder: Path, class_names: tuple[str, ...], store: StoreWriter,
                 on_evidence: EventListener | None = None, capacity: int = CAPACITY,
                 alert_wait_s: float = ALERT_WAIT_S):
        self.folder, self.class_names = Path(folder), class_names
        self.store, self.on_evidence = store, on_evidence
        self._queue: WriteQueue[_Snapshot] = WriteQueue("evidence writer", self._write, capacity)
        self._hand_on = None if on_evidence is None else AlertHandOn(on_evidence, alert_wait_s)
        self._tokens = itertools.count()

    def start(self) -> EvidenceWriter:
        if self._hand_on is not None:
            self._hand_on.start()
        self._queue.start()
        return self

    def event_grew(self, event: ThreatEvent, frame: Frame, detections: Detections) -> None:
        """An event opened or rose in score on `frame`: its best frame, to be written."""
        job = _Snapshot(next(self._tokens), event, frame, detections)
        if self._hand_on is not None:
            self._hand_on.expect(job.token, event)  # before the writer can say it is written
        if not self._queue.put(job):
            log.error("camera %s: no snapshot of event %s (the evidence writer is behind)", event.camera, event.id,
                      extra={"camera": event.camera, "event": event.id})
            if self._hand_on is not None:
                self._hand_on.failed(job.token, event)

    def stats(self) -> WriterStats:
        return self._queue.stats()

    def wait_idle(self, timeout: float | None = None) -> bool:
        """Whether every snapshot asked for so far was written and handed on within `timeout`."""
        deadline = None if timeout is None else time.monotonic() + timeout
        if not self._queue.wait_idle(timeout):
            return False
        left = None if deadline is None else max(0.0, deadline - time.monotonic())
        return self._hand_on is None or self._hand_on.wait_idle(left)

    def close(self, timeout: float | None = None) -> bool:
        """Write what is queued (up to `timeout`), then hand on what is left (without snapshots not written)."""
        done = self._queue.close(timeout)
        if self._hand_on is not None:
            self._hand_on.close(timeout)
        return done

    def _write(self, job: _Snapshot) -> None:
        event = job.event
        try:
            clean, annotated = write_snapshots(event, job.frame, job.detections, self.folder,
                                               class_names=self.class_names)
        except OSError as error:  # a full or missing disk: the alert still goes, without a snapshot
            log.error("camera %s: snapshot of event %s not written: %s", event.camera, event.id, error,
                      extra={"camera": event.camera, "event": event.id})
            if self._hand_on is not None:
                self._hand_on.failed(job.token, event)
            return
        files = Evidence(snapshot=str(clean), annotated=str(annotated))
        if self._hand_on is not None:
            self._hand_on.written(job.token, dataclasses.replace(event, evidence=event.evidence.merged(files)))
        self.store.files_written(event, files, notify=False)
