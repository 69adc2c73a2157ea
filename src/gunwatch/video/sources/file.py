"""A video file played as a camera: at the pace of its timestamps, from the start again when `loop` is set.

Unpaced (`paced=False`), every frame comes as soon as it is decoded: a benchmark plays an hour of footage
through the pipeline in minutes, by the frames' own timestamps.
"""

from __future__ import annotations

from collections.abc import Generator

from gunwatch.config.camera import Camera
from gunwatch.video.sources.failures import RecordingEnded
from gunwatch.video.sources.pacing import Pacer
from gunwatch.video.sources.pyav_input import decoded_frames, open_input
from gunwatch.video.sources.reader import RawFrame, ReadContext


class FileReader:
    """Timestamps keep rising across loops (each pass continues one frame after the last), so a looped
    file looks like one endless recording to the stages downstream."""

    def __init__(self, camera: Camera, paced: bool = True) -> None:
        self._path = camera.url
        self._loop = camera.loop
        self._paced = paced

    def frames(self, context: ReadContext) -> Generator[RawFrame, None, None]:
        pacer = Pacer(context.stop)
        continue_at: float | None = None  # None on the first pass: the file's own timestamps
        while True:
            last_pts = None
            with open_input(self._path, context.stall_after_s) as container:
                rate = container.streams.video[0].average_rate if container.streams.video else None
                step = 1 / float(rate) if rate else 0.04
                offset = 0.0
                for index, frame in enumerate(decoded_frames(container, context)):
                    pts = frame.time if frame.time is not None else index * step
                    if continue_at is not None:
                        offset, continue_at = continue_at - pts, None
                    last_pts = pts + offset
                    running = pacer.wait_for(last_pts) if self._paced else not context.stop.is_set()
                    if not running:
                        return
                    yield frame, last_pts  # converted to RGB only if the pipeline samples it
            if not self._loop:
                raise RecordingEnded("end of file")
            if last_pts is None:
                return  # no frames: ended; the source retries with backoff instead of spinning here
            continue_at = last_pts + step
