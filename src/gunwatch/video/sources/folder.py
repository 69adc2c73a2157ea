"""A folder of images played as a camera: in name order, at the camera's detect fps."""

from __future__ import annotations

import logging
import time
from collections.abc import Generator
from pathlib import Path

import numpy as np

from gunwatch.config.camera import Camera
from gunwatch.data.images import ImageDecodeError, ImageTooLarge, images_in, load_rgb
from gunwatch.video.sources.failures import StreamFailure, describe
from gunwatch.video.sources.pacing import Pacer
from gunwatch.video.sources.reader import RawFrame, ReadContext

log = logging.getLogger(__name__)

POLL_S = 0.2
# A file younger than this may still be being written by the camera that drops it there.
SETTLE_S = 0.2


class FolderReader:
    """With `loop`, the images play from the first again after the last. Without it the folder is watched
    for new images (a camera that drops JPEGs there), and one without new images for stall_after_s is a
    stalled camera; a reconnect resumes after the last image shown.

    Images carry no time: they are timestamped one detect interval apart, on a timeline that keeps rising.
    An image that does not decode, or is larger than gunwatch decodes (`data.images.MAX_IMAGE_PIXELS`,
    checked from its header), is skipped and counted as a decode error; the camera goes on with the next.
    """

    def __init__(self, camera: Camera) -> None:
        self._folder = Path(camera.url)
        self._loop = camera.loop
        self._step = 1 / camera.detect.fps
        self._after = ""  # name of the last image shown
        self._shown = 0
        self._too_large: set[str] = set()  # names already reported, so a looped folder warns once per file

    def frames(self, context: ReadContext) -> Generator[RawFrame, None, None]:
        pacer = Pacer(context.stop)
        last_frame = time.monotonic()
        while not context.stop.is_set():
            pending = self._pending()
            if not pending and self._loop and self._after and self._images():
                self._after = ""
                continue
            for path in pending:
                self._after = path.name
                image = self._load(path, context)
                pts = self._shown * self._step
                if image is None:
                    continue
                if not pacer.wait_for(pts):
                    return
                self._shown += 1
                last_frame = time.monotonic()
                yield image, pts
            if not pending:
                if time.monotonic() - last_frame > context.stall_after_s:
                    raise StreamFailure(f"no new image for {context.stall_after_s:g} s", "stalled")
                context.stop.wait(POLL_S)

    def _images(self) -> list[Path]:
        try:
            return images_in(self._folder)[0]
        except OSError as error:
            raise StreamFailure(f"folder unreadable: {describe(error)}") from None

    def _pending(self) -> list[Path]:
        """Images after the last one shown, up to the first that may still be being written."""
        pending = [p for p in self._images() if p.name > self._after]
        young = time.time() - SETTLE_S
        for position, path in enumerate(pending):
            try:
                if path.stat().st_mtime > young:
                    return pending[:position]
            except OSError:
                return pending[:position]
        return pending


    def _load(self, path: Path, context: ReadContext) -> np.ndarray | None:
        try:
            return load_rgb(path)
        except ImageTooLarge as error:
            if path.name not in self._too_large:
                self._too_large.add(path.name)
                log.warning("folder camera %s: skipped %s", self._folder, error)
            context.on_decode_error(f"too large: {path.name}")
        except (OSError, ImageDecodeError, ValueError) as error:
            context.on_decode_error(f"decode error: {path.name}: {describe(error)}")
        return None
