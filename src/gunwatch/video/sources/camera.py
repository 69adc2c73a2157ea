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
from gunwatch.video.frame import AS_SENT, Frame, PictureRules, circle_check, picture_notes
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
    # Monotonic time since which the reader has waited for its connection or its next frame without either
    # coming or failing; None while it backs off before reconnecting, or once it ended. A watchdog's view.
    waiting_since: float | None = None
    restarts: int = 0  # readers abandoned as hung and replaced (`restart`)


# Readers abandoned as hung that may still be alive (a thread cannot be killed: each holds its stack and its
# FFmpeg context until its call returns). Beyond this many, a camera that keeps hanging is not given yet
# another thread: it stays stalled until one of them returns, and says so.
MAX_HUNG_READERS = 3


@dataclass
class _Reading:
    """One reader thread and the event that tells it to quit (stopped, or abandoned by `restart`)."""

    thread: threading.Thread
    quit: threading.Event


class CameraSource:
    """Reads one camera in its own daemon thread and keeps only its newest frame.

        with CameraSource("lobby", reader, health, on_health=print) as source:
            frame = source.wait(timeout=5)           # the newest frame, or None
            frame = source.wait(after=frame.index)   # a newer one

    The thread owns everything it blocks on; its lock guards counters only and is never held during
    I/O or the health callback, so a camera that hangs cannot slow the others or the consumer. A reader
    that hangs without its own timeouts firing (no frame and no failure: `stats().waiting_since`) is
    replaced by `restart`: the hung thread is left behind, told to quit, and publishes nothing more.
    """

    def __init__(
        self,
        name: str,
        reader: FrameReader,
        health: HealthSettings,
        on_health: HealthCallback | None = None,
        rng: random.Random | None = None,
        rules: PictureRules = AS_SENT,
    ) -> None:
        self.name = name
        self._rules = rules  # the camera's `rotate`, `deinterlace`, `aspect`, `fisheye`: every frame published as shown
        self._reader = reader
        self._health = health
        self._on_health = on_health
        self._rng = rng
        self._mailbox = LatestFrame()
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._reading: _Reading | None = None
        self._abandoned: list[_Reading] = []  # hung readers given up by `restart`, until their threads end
        self._state: CameraState | None = None
        self._reason = "starting"
        self._frames_in = 0
        self._reconnects = 0
        self._decode_errors = 0
        self._last_frame_at: float | None = None
        self._waiting_since: float | None = None
        self._restarts = 0

    # --- consumer side -------------------------------------------------------------------------------

    def start(self) -> CameraSource:
        with self._lock:
            if self._reading is None:
                self._reading = self._new_reading()
                self._reading.thread.start()
        return self

    def restart(self, reason: str) -> bool:
        """Abandon the reader thread (hung: no frame and no failure for too long) and read on a new one: the
        camera is `stalled` for `reason` until its first frame. False when stopped (or never started).

        A Python thread cannot be killed: the old one is told to quit, and whatever it returns with later is
        dropped, never published. When MAX_HUNG_READERS abandoned ones are still alive, no new one starts
        (False; the camera is stalled saying so) until one of them returns."""
        with self._lock:
            old = self._reading
            if old is None or self._stop.is_set():
                return False
            self._abandoned = [hung for hung in self._abandoned if hung.thread.is_alive()]
            if len(self._abandoned) >= MAX_HUNG_READERS:
                refused = (f"{reason}; not reopened: {len(self._abandoned)} earlier readers are still hung "
                           "(a new one starts when one of them returns)")
            else:
                refused = None
                old.quit.set()
                self._abandoned.append(old)
                self._reading = self._new_reading()
                self._restarts += 1
                self._waiting_since = None
            reading = self._reading
        if refused is not None:
            self._set_state("stalled", refused)
            return False
        self._set_state("stalled", reason)  # said before the new reader can say online
        with self._lock:
            if self._stop.is_set() or self._reading is not reading:
                return False
            reading.thread.start()
        return True

    def stop(self, timeout: float = 2.0) -> bool:
        """Stop reading; True when the thread ended within `timeout`.

        A thread blocked inside FFmpeg ends at its next I/O timeout (stall_after_s at most); being a daemon
        that publishes nothing more, it is harmless until then.
        """
        with self._lock:
            self._stop.set()
            reading = self._reading
            if reading is not None:
                reading.quit.set()
        self._mailbox.close()
        if reading is None or reading.thread.ident is None:  # never started (stopped during a restart)
            return True
        reading.thread.join(timeout)
        return not reading.thread.is_alive()

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
        reading = self._reading  # a reader being replaced (`restart`) is about to start: running
        return reading is not None and not self._stop.is_set() and (reading.thread.ident is None
                                                                   or reading.thread.is_alive())

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
                self._waiting_since,
                self._restarts,
            )

    def __enter__(self) -> CameraSource:
        return self.start()

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None):
        self.stop()

    # --- reader thread -------------------------------------------------------------------------------

    def _new_reading(self) -> _Reading:
        quit = threading.Event()
        thread = threading.Thread(target=self._run, args=(quit,), name=f"camera-{self.name}", daemon=True)
        return _Reading(thread, quit)

    def _run(self, quit: threading.Event) -> None:
        """One reader thread, until stopped or abandoned (`quit`); an abandoned one changes nothing more."""
        backoff = Backoff(self._health.reconnect.initial_s, self._health.reconnect.max_s, self._rng)
        context = ReadContext(quit, self._health.stall_after_s, self._decode_error)
        while not quit.is_set():
            self._waiting(quit, time.monotonic())
            try:
                failure = self._connect_and_read(context, backoff)
            except RecordingEnded as end:
                if not quit.is_set():
                    self._waiting(quit, None)
                    self._set_state("offline", str(end), final=True)
                return
            if quit.is_set():
                return
            self._waiting(quit, None)  # backing off is no hang
            self._set_state(failure.state, failure.reason)
            if quit.wait(backoff.next_wait()):
                return
            with self._lock:
                self._reconnects += 1

    def _waiting(self, quit: threading.Event, since: float | None) -> None:
        with self._lock:
            if not quit.is_set():
                self._waiting_since = since

    def _connect_and_read(self, context: ReadContext, backoff: Backoff) -> StreamFailure:
        """One connection, read until it ends; what ended it."""
        frames = self._reader.frames(context)
        try:
            for image, pts in frames:
                if context.stop.is_set() or not self._publish(image, pts, context.stop):
                    break
                backoff.reset()
        except StreamFailure as failure:
            return failure
        except RecordingEnded:
            raise
        except (av.FFmpegError, OSError) as error:  # a reader that let one through: no traceback (URL inside)
            log.error("camera %s: reader error %s: %s", self.name, type(error).__name__, describe(error),
                      extra={"camera": self.name})
            return StreamFailure(describe(error))
        except Exception as error:  # a bug in a reader must not end the camera's thread
            log.exception("camera %s: reader failed", self.name, extra={"camera": self.name})
            return StreamFailure(f"internal error: {type(error).__name__}")
        finally:
            frames.close()  # closes the connection now, also when stopping mid-stream
        return StreamFailure("stream ended")

    def _publish(self, image: np.ndarray | av.VideoFrame, pts: float | None, quit: threading.Event) -> bool:
        """Hand the frame over; False (nothing published) when this reader was abandoned or stopped."""
        now = time.time()
        with self._lock:
            if quit.is_set():
                return False
            index = self._frames_in
            self._frames_in += 1
            self._last_frame_at = now
            self._waiting_since = time.monotonic()
        frame = Frame(self.name, image, index, pts, now, self._rules)
        self._mailbox.put(frame)
        if self._state != "online":
            width, height = frame.size
            reason = f"receiving {width}x{height} frames{picture_notes(frame)}"
            if advice := self._circle_advice(image):
                log.warning("camera %s: %s", self.name, advice, extra={"camera": self.name})
                reason = f"{reason}; {advice}"
            self._set_state("online", reason)
        return True

    def _circle_advice(self, image: np.ndarray | av.VideoFrame) -> str:
        try:
            return circle_check(image, self._rules)
        except Exception:  # advice on the settings must never take the camera down
            log.exception("camera %s: checking the fisheye circle failed", self.name, extra={"camera": self.name})
            return ""

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
        log.log(logging.INFO if state == "online" else logging.WARNING, "camera %s", change,
                extra={"camera": self.name, "state": state})
        if self._on_health is not None:
            try:
                self._on_health(change)
            except Exception:  # the listener's bug must not stop the camera
                log.exception("camera %s: health callback failed", self.name)
