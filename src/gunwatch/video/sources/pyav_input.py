"""FFmpeg input through PyAV: open with timeouts, and decode a video stream that may stall, break or lie."""

from __future__ import annotations

import time
from collections.abc import Generator

import av
from av.container import InputContainer

from gunwatch.video.aspect import stamp_sample_aspect
from gunwatch.video.sources.failures import StreamFailure, describe
from gunwatch.video.sources.reader import ReadContext


def open_input(
    url: str, timeout_s: float, options: dict[str, str] | None = None, format: str | None = None
) -> InputContainer:
    """The opened container, or StreamFailure with FFmpeg's reason.

    PyAV's timeout interrupts any blocking call (connect, handshake, each read) after `timeout_s`, so a
    camera that accepts the connection and then says nothing cannot hold its reader forever.
    """
    started = time.monotonic()
    try:
        return av.open(url, format=format, options=options or {}, timeout=timeout_s)
    except (av.FFmpegError, OSError) as error:
        # By the clock, not the error code: RTSP reports an interrupted handshake as "invalid data".
        if isinstance(error, av.ExitError) or time.monotonic() - started >= timeout_s:
            # "valid": a camera that answers with bytes that are not its protocol (garbage) ends here too.
            raise StreamFailure(f"no valid answer within {timeout_s:g} s") from None
        # `from None`: the original message quotes the URL, password and all.
        raise StreamFailure(describe(error)) from None


def decoded_frames(container: InputContainer, context: ReadContext) -> Generator[av.VideoFrame, None, None]:
    """The frames of the first video stream until it ends.

    A packet that does not decode is skipped and reported (one lost packet must not drop a camera); a
    read error ends the stream with StreamFailure; no frame for `stall_after_s` (packets that do not
    decode, or none at all) is a stall.
    """
    if not container.streams.video:
        raise StreamFailure("no video stream")
    stream = container.streams.video[0]
    watch = _StallWatch(context.stall_after_s)
    try:
        for packet in container.demux(stream):
            if context.stop.is_set():
                return
            try:
                frames = stream.decode(packet)
            except av.FFmpegError as error:
                watch.last_error = f"decode error: {describe(error)}"
                context.on_decode_error(watch.last_error)
                frames = []
            for frame in frames:
                stamp_sample_aspect(frame, stream)
                yield frame
                watch.saw_frame()  # after the yield: time the consumer spent (pacing a file) is no stall
            watch.check()
    except av.FFmpegError as error:
        # PyAV's read timeout (ExitError, or whatever the demuxer makes of it): nothing came for stall_after_s.
        if isinstance(error, av.ExitError) or watch.overdue():
            raise watch.stalled() from None
        raise StreamFailure(f"read error: {describe(error)}") from None
    if not watch.frames and watch.last_error:
        raise StreamFailure(watch.last_error)


class _StallWatch:
    def __init__(self, stall_after_s: float) -> None:
        self.stall_after_s = stall_after_s
        self.last_frame = time.monotonic()
        self.frames = 0
        self.last_error: str | None = None

    def saw_frame(self) -> None:
        self.last_frame = time.monotonic()
        self.frames += 1
        self.last_error = None

    def overdue(self) -> bool:
        return time.monotonic() - self.last_frame >= self.stall_after_s

    def check(self) -> None:
        if self.overdue():
            raise self.stalled()

    def stalled(self) -> StreamFailure:
        reason = f"no frame for {self.stall_after_s:g} s"
        return StreamFailure(f"{reason} ({self.last_error})" if self.last_error else reason, "stalled")
