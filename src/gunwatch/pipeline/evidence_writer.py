"""Snapshots of events that opened or grew, written on one thread of their own: the best frame as JPEGs.

After the JPEGs (clean and annotated), the event's new version naming them goes to `on_evidence` first
(alerts attach the snapshot: an alert waits for the JPEG, not for a commit) and then to the store writer. A
job holds a whole frame, so the queue is short; when it is full the snapshot is skipped (logged) and the
event goes to `on_evidence` at once without one: a slow disk never loses an alert.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from gunwatch.events.evidence import write_snapshots
from gunwatch.events.model import Evidence, ThreatEvent
from gunwatch.inference.detections import Detections
from gunwatch.pipeline.store_writer import StoreWriter
from gunwatch.pipeline.write_queue import WriteQueue, WriterStats, guarded
from gunwatch.video.frame import Frame

log = logging.getLogger(__name__)
EventListener = Callable[[ThreatEvent], None]
CAPACITY = 32  # frames: about 200 MB of 1080p at most


@dataclass(frozen=True)
class _Snapshot:
    event: ThreatEvent
    frame: Frame
    detections: Detections


class EvidenceWriter:
    def __init__(self, folder: Path, class_names: tuple[str, ...], store: StoreWriter,
                 on_evidence: EventListener | None = None, capacity: int = CAPACITY):
        self.folder, self.class_names = Path(folder), class_names
        self.store, self.on_evidence = store, on_evidence
        self._queue: WriteQueue[_Snapshot] = WriteQueue("evidence writer", self._write, capacity)

    def start(self) -> EvidenceWriter:
        self._queue.start()
        return self

    def event_grew(self, event: ThreatEvent, frame: Frame, detections: Detections) -> None:
        """An event opened or rose in score on `frame`: its best frame, to be written."""
        if not self._queue.put(_Snapshot(event, frame, detections)):
            log.error("camera %s: no snapshot of event %s (the evidence writer is behind)", event.camera, event.id)
            self._hand_on(event)

    def stats(self) -> WriterStats:
        return self._queue.stats()

    def wait_idle(self, timeout: float | None = None) -> bool:
        return self._queue.wait_idle(timeout)

    def close(self, timeout: float | None = None) -> bool:
        return self._queue.close(timeout)

    def _write(self, job: _Snapshot) -> None:
        event = job.event
        try:
            clean, annotated = write_snapshots(event, job.frame, job.detections, self.folder,
                                               class_names=self.class_names)
        except OSError as error:  # a full or missing disk: the alert still goes, without a snapshot
            log.error("camera %s: snapshot of event %s not written: %s", event.camera, event.id, error)
            self._hand_on(event)
            return
        files = Evidence(snapshot=str(clean), annotated=str(annotated))
        self._hand_on(dataclasses.replace(event, evidence=event.evidence.merged(files)))
        self.store.files_written(event, files, notify=False)

    def _hand_on(self, event: ThreatEvent) -> None:
        if self.on_evidence is not None:
            guarded(self.on_evidence, event)
