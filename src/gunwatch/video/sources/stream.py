"""Live sources through FFmpeg: RTSP, HTTP MJPEG, HLS, RTMP and Video4Linux devices."""

from __future__ import annotations

from collections.abc import Generator

from gunwatch.config.camera import Camera
from gunwatch.video.sources.pyav_input import decoded_frames, open_input
from gunwatch.video.sources.reader import RawFrame, ReadContext

# FFmpeg's own socket timeouts (microseconds) back up PyAV's interrupt timeout, a little later so that
# PyAV's clearer "no valid answer within N s" is what normally fires.
_BACKSTOP_S = 1.0


def ffmpeg_options(camera: Camera, timeout_s: float) -> dict[str, str]:
    """FFmpeg options for the camera's kind of URL."""
    microseconds = str(int((timeout_s + _BACKSTOP_S) * 1e6))
    if camera.kind == "rtsp":
        # For RTSP `timeout` is the socket timeout; for RTMP it would mean "listen", hence rw_timeout there.
        return {"rtsp_transport": camera.rtsp_transport, "timeout": microseconds}
    if camera.kind in ("mjpeg", "hls", "rtmp"):
        return {"rw_timeout": microseconds}
    return {}


class StreamReader:
    """One FFmpeg connection per `frames()` call; frames are passed on as fast as the camera sends them."""

    def __init__(self, camera: Camera) -> None:
        self._camera = camera
        self._format = "v4l2" if camera.kind == "device" else None

    def frames(self, context: ReadContext) -> Generator[RawFrame, None, None]:
        options = ffmpeg_options(self._camera, context.stall_after_s)
        with open_input(self._camera.url, context.stall_after_s, options, self._format) as container:
            for frame in decoded_frames(container, context):
                yield frame, frame.time  # converted to RGB only if the pipeline samples it
