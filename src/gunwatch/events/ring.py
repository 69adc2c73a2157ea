"""The last seconds of one camera's frames, shrunk, kept in memory for a clip's pre-roll."""

from __future__ import annotations

from collections import deque

from gunwatch.video.frame import Frame

# Evidence frames are shrunk to fit this box: enough to see a person and what they hold, and it bounds
# memory. A 640 x 360 RGB frame is 0.69 MB; a 5 s pre-roll at 5 fps keeps 26 frames, about 18 MB per camera
# (16 cameras: about 290 MB). Kept at 1080p, the same ring would need 160 MB per camera. Both sides are
# bounded: a frame 640 wide but 130000 tall (a source sending a strip) is 238 MiB; in the box, at most 1.2 MB.
MAX_WIDTH = 640
MAX_HEIGHT = 640  # a portrait camera (1080 x 1920) keeps 360 x 640


def shrink(frame: Frame, max_width: int = MAX_WIDTH, max_height: int = MAX_HEIGHT) -> Frame:
    """The frame with its image at most `max_width` x `max_height` px (the same frame when it already fits).

    An integer box reduction (1280 -> 640, 1920 -> 640, 704 -> 352), several times cheaper than a resize to
    an exact width; from a decoder's picture it also skips converting the full frame (`Frame.reduced`).
    """
    return frame.reduced(max_width, max_height)


class FrameRing:
    """Frames of the last `seconds` (by their wall-clock arrival), oldest first, each shrunk on the way in
    to fit `max_width` x `max_height`.

    Feed it the camera's sampled frames (the detect fps), not every decoded frame: the memory note above
    assumes 5 fps.
    """

    def __init__(self, seconds: float, max_width: int = MAX_WIDTH, max_height: int = MAX_HEIGHT):
        if seconds < 0:
            raise ValueError(f"seconds must be >= 0, got {seconds}")
        self.seconds = seconds
        self.max_width, self.max_height = max_width, max_height
        self._frames: deque[Frame] = deque()

    def push(self, frame: Frame) -> Frame:
        """Keep the frame, drop what is older than `seconds` before it; returns the shrunk frame kept."""
        small = shrink(frame, self.max_width, self.max_height)
        if self._frames and small.received < self._frames[-1].received:
            self._frames.clear()  # the wall clock stepped back: the old times no longer compare
        self._frames.append(small)
        cutoff = small.received - self.seconds
        while self._frames[0].received < cutoff:
            self._frames.popleft()
        return small

    def frames(self) -> list[Frame]:
        return list(self._frames)

    def __len__(self) -> int:
        return len(self._frames)
