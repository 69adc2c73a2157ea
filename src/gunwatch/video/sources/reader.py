"""The one contract every kind of source implements: connect, then yield frames until the stream ends."""

from __future__ import annotations

import threading
from collections.abc import Callable, Generator
from dataclasses import dataclass
from typing import Protocol

import av
import numpy as np

# A picture, RGB uint8 or the decoder's own (converted when used, see `Frame`), and its stream timestamp in
# seconds (None when the stream has none).
RawFrame = tuple[np.ndarray | av.VideoFrame, float | None]


@dataclass(frozen=True)
class ReadContext:
    """What a reader needs from the camera source that runs it."""

    stop: threading.Event  # set when the source is stopped: return soon, without an error
    stall_after_s: float  # no frame for this long: StreamFailure(..., "stalled"); also the I/O timeout
    on_decode_error: Callable[[str], None]  # a picture that did not decode (skipped, counted)


class FrameReader(Protocol):
    def frames(self, context: ReadContext) -> Generator[RawFrame, None, None]:
        """One connection: open the source and yield its frames as they are decoded.

        Returning means the stream ended (the source reconnects). Raises StreamFailure when it cannot
        connect, breaks or stalls, and RecordingEnded when a file without `loop` is over. A generator, so
        that closing it closes the connection at once.
        """
        ...
