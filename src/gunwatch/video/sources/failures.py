"""Why a camera's connection ended, in words fit for a health change (no URL: it may hold a password)."""

from __future__ import annotations

import av

from gunwatch.video.health import CameraState


class StreamFailure(Exception):
    """A connection attempt or a running stream ended badly; the camera enters `state` and is reconnected."""

    def __init__(self, reason: str, state: CameraState = "offline") -> None:
        super().__init__(reason)
        self.reason = reason
        self.state = state


class RecordingEnded(Exception):
    """A video file without `loop` played to its end: the camera goes offline for good."""


def describe(error: BaseException) -> str:
    """'connection refused', 'server returned 404 not found', ...: FFmpeg's words for the error.

    Never str(error): PyAV appends the file name, which for a camera is its URL with the password.
    """
    if isinstance(error, ConnectionRefusedError):
        return "connection refused"
    if isinstance(error, av.FFmpegError):
        text = error.strerror
    elif isinstance(error, OSError):
        text = error.strerror or str(error)  # PIL's "cannot identify image file" has no strerror
    else:
        text = str(error)
    text = (text or type(error).__name__).strip().rstrip(".")
    return text[:1].lower() + text[1:]
