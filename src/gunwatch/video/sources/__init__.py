"""Cameras in: one reader thread per camera, newest frame only, reconnects, and health as events.

    from gunwatch.video.sources import camera_source
    source = camera_source("lobby", site.cameras["lobby"], site.health, on_health=print).start()
    frame = source.wait(timeout=5)                  # the newest Frame, or None
    frame = source.wait(after=frame.index, timeout=1)  # a newer one; older unread frames are dropped
    print(source.stats())                           # state, frames in, dropped, reconnects, ...
    source.stop()

Modules: `camera` (the thread: connect, read, back off, report), `mailbox` (the one-slot hand-over),
`backoff`, `failures` (reasons in words), `reader` (the contract of a reader), `pyav_input` (FFmpeg:
timeouts, decoding, stalls), one module per kind of reader (`stream`: RTSP, MJPEG, HLS, RTMP and
/dev/videoN; `file`; `folder`), `pacing` (recordings at their own speed) and `registry` (kind -> reader).
"""

from gunwatch.video.sources.camera import CameraSource, SourceStats
from gunwatch.video.sources.failures import RecordingEnded, StreamFailure
from gunwatch.video.sources.reader import FrameReader, RawFrame, ReadContext
from gunwatch.video.sources.registry import READERS, camera_source

__all__ = [
    "READERS",
    "CameraSource",
    "FrameReader",
    "RawFrame",
    "ReadContext",
    "RecordingEnded",
    "SourceStats",
    "StreamFailure",
    "camera_source",
]
