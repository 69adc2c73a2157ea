"""Which reader serves which kind of camera URL, and the one call that builds a camera's source."""

from __future__ import annotations

import random
from collections.abc import Callable

from gunwatch.config.camera import Camera
from gunwatch.config.sections import HealthSettings
from gunwatch.config.sources import SourceKind
from gunwatch.video.frame import PictureRules
from gunwatch.video.health import HealthCallback
from gunwatch.video.sources.camera import CameraSource
from gunwatch.video.sources.file import FileReader
from gunwatch.video.sources.folder import FolderReader
from gunwatch.video.sources.reader import FrameReader
from gunwatch.video.sources.stream import StreamReader

# A new kind of camera is one reader class and one line here.
READERS: dict[SourceKind, Callable[[Camera], FrameReader]] = {
    "rtsp": StreamReader,
    "mjpeg": StreamReader,
    "hls": StreamReader,
    "rtmp": StreamReader,
    "device": StreamReader,
    "file": FileReader,
    "folder": FolderReader,
}


def camera_source(
    name: str,
    camera: Camera,
    health: HealthSettings | None = None,
    on_health: HealthCallback | None = None,
    rng: random.Random | None = None,
) -> CameraSource:
    """The (not yet started) source for a configured camera: `camera_source(...).start()`."""
    return CameraSource(name, READERS[camera.kind](camera), health or HealthSettings(), on_health, rng,
                        PictureRules.of(camera))
