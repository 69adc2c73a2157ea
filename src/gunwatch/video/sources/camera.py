"""One camera's source: a reader thread that connects, decodes, reconnects and reports health."""

from __future__ import annotations

import logging
import random
import threading
import time
from dataclasses import dataclass
from types import TracebackType

import av
import numpy as np

from gunwatch.config.sections import HealthSettings
from gunwatch.video.frame import Frame
from gunwatch.video.health import CameraState, HealthCallback, HealthChange
from gunwatch.video.sources.backoff import Backoff
from gunwatch.video.sources.failures import RecordingEnded, StreamFailure, describe
from gunwatch.video.sources.mailbox import LatestFrame
from gunwatch.video.sources.reader import FrameReader, ReadContext

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class SourceStats:
    """A snapshot for the status line."""

    state: CameraState | None  # None until the first frame or the first failure
    reason: str
    frames_in: int  # frames decoded
    dropped: int  # frames replaced in the mailbox before the consumer took them
    reconnects: int  # connection attempts after the first
    decode_errors: int  # pictures or packets skipped because they did not decode
    last_frame_at: float | None  # wall-clock time of the newest frame


class CameraSource:
    """Reads one camera in its own daemon thread and keeps only its newest frame.

        with CameraSource("lobby", reader, health, on_health=print) as source:
            frame = source.wait(timeout=5)           # the newest frame, or None
            frame = source.wait(after=frame.index)   # a newer one

    The thread owns everything it blocks on; its lock guards counters only and is never held during
    I/O or the health callback, so a camera that hangs cannot slow the others or the consumer.
    """

    def __init__(
        self,
        name: str,
        reader: FrameReader,
        health: HealthSettings,
        on_health: HealthCallback | None = None,
        rng: random.Random | None = None,
    ) -> None:
        self.name = name
        self._reader = reader
        self._health = health
        self._on_health = on_health
        self._rng = rng
        self._mailbox = LatestFrame()
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._state: CameraState | None = None
        self._reason = "starting"
        self._frames_in = 0
        self._reconnects = 0
        self._decode_errors = 0
        self._last_frame_at: float | None = None

    # --- consumer side -------------------------------------------------------------------------------

    def start(self) -> CameraSource:
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name=f"camera-{self.name}", daemon=True)
            self._thread.start()
        return self

    def stop(self, timeout: float = 2.0) -> bool:
        """Stop reading; True when the thread ended within `timeout`.

        A thread blocked inside FFmpeg ends at its next I/O timeout (stall_after_s at most); being a daemon
        that publishes nothing more, it is harmless until then.
        """
        self._stop.set()
        self._mailbox.close()
        if self._thread is None:
            return True
        self._thread.join(timeout)
        return not self._thread.is_alive()

    def latest(self, after: int = -1) -> Frame | None:
        """The newest frame if it is newer than frame index `after`; never waits."""
        return self._mailbox.latest(after)

    def wait(self, after: int = -1, timeout: float | None = None) -> Frame | None:
        """The newest frame newer than `after`, waiting up to `timeout` s (None when none came or stopped)."""
        return self._mailbox.wait(after, timeout)

    @property
    def state(self) -> CameraState | None:
        return self._state

    @property
    def running(self) -> bool:
        """False once stopped, or after a file without loop ended."""
        return self._thread is not None and self._thread.is_alive() and not self._stop.is_set()

    def stats(self) -> SourceStats:
        with self._lock:
            return SourceStats(
                self._state,
                self._reason,
                self._frames_in,
                self._mailbox.dropped,
                self._reconnects,
                self._decode_errors,
                self._last_frame_at,
            )

    def __enter__(self) -> CameraSource:
        return self.start()

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None):
        self.stop()

    # --- reader thread -------------------------------------------------------------------------------

    def _run(self) -> None:
        backoff = Backoff(self._health.reconnect.initial_s, self._health.reconnect.max_s, self._rng)
        context = ReadContext(self._stop, self._health.stall_after_s, self._decode_error)
        while not self._stop.is_set():
            try:
                failure = self._connect_and_read(context, backoff)
            except RecordingEnded as end:
                self._set_state("offline", str(end), final=True)
                return
            if self._stop.is_set():
                return
            self._set_state(failure.state, failure.reason)
            if self._stop.wait(backoff.next_wait()):
                return
            with self._lock:
                self._reconnects += 1

    def _connect_and_read(self, context: ReadContext, backoff: Backoff) -> StreamFailure:
        """One connection, read until it ends; what ended it."""
        frames = self._reader.frames(context)
        try:
            for image, pts in frames:
                if self._stop.is_set():
                    break
                self._publish(image, pts)
                backoff.reset()
        except StreamFailure as failure:
            return failure
        except RecordingEnded:
            raise
        except (av.FFmpegError, OSError) as error:  # a reader that let one through: no traceback (URL inside)
            log.error("camera %s: reader error %s: %s", self.name, type(error).__name__, describe(error))
            return StreamFailure(describe(error))
        except Exception as error:  # a bug in a reader must not end the camera's thread
            log.exception("camera %s: reader failed", self.name)
            return StreamFailure(f"internal error: {type(error).__name__}")
        finally:
            frames.close()  # closes the connection now, also when stopping mid-stream
        return StreamFailure("stream ended")

    def _publish(self, image: np.ndarray | av.VideoFrame, pts: float | None) -> None:
        now = time.time()
        with self._lock:
            index = self._frames_in
            self._frames_in += 1
            self._last_frame_at = now
        frame = Frame(self.name, image, index, pts, now)
        self._mailbox.put(frame)
        if self._state != "online":
            width, height = frame.size
            self._set_state("online", f"receiving {width}x{height} frames")

    def _decode_error(self, message: str) -> None:
        with self._lock:
            self._decode_errors += 1
        log.debug("camera %s: %s", self.name, message)

    def _set_state(self, state: CameraState, reason: str, final: bool = False) -> None:
        """Report a change of state; a repeated failure in the same state is not a change, unless it is the
        camera's last word."""
        with self._lock:
            changed = state != self._state or final
            self._state, self._reason = state, reason
        if not changed:
            return
        change = HealthChange(self.name, state, reason, time.time())
        log.log(logging.INFO if state == "online" else logging.WARNING, "camera %s", change)
        if self._on_health is not None:
            try:
                self._on_health(change)
            except Exception:  # the listener's bug must not stop the camera
                log.exception("camera %s: health callback failed", self.name)
