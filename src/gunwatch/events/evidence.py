"""Evidence files of a threat event: where they go, and the best frame as JPEGs, clean and annotated."""

from __future__ import annotations

import os
import re
import time
from pathlib import Path

import numpy as np
from PIL import Image

from gunwatch.events.model import ThreatEvent
from gunwatch.events.private import make_private_dirs, open_private
from gunwatch.inference.detections import Detections
from gunwatch.video.annotate import draw_detections
from gunwatch.video.frame import Frame

JPEG_QUALITY = 90  # a person must be able to recognise the object; 90 keeps edges at a third of PNG's size

_UNSAFE = re.compile(r"[^A-Za-z0-9_-]")


def evidence_path(folder: Path, event: ThreatEvent, suffix: str) -> Path:
    """FOLDER/CAMERA/CAMERA_YYYYMMDDTHHMMSSZ_ID8SUFFIX: one folder per camera, an event's files side by side.

    The time is when the event opened, in UTC (no daylight-saving repeats); the event id's first 8 hex digits
    tell apart two events opened within the same second. The camera is in the name too, so a file copied
    out of its folder still says where it came from.
    """
    camera = _UNSAFE.sub("_", event.camera)  # config names are safe already; this guards other callers
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(event.confirmed_at))
    return Path(folder) / camera / f"{camera}_{stamp}_{event.id[:8]}{suffix}"


def write_snapshots(
    event: ThreatEvent, frame: Frame, detections: Detections, folder: Path, *, class_names: tuple[str, ...]
) -> tuple[Path, Path]:
    """Write the event's best frame as a clean and an annotated JPEG; returns their paths (clean, annotated).

    `detections` are in `frame`'s pixels (pass the analysed image); `class_names` are the detector's. Called
    again with a better frame, it replaces the files. About 30 ms for a 1080p frame: fine at an event's
    opening, not on every frame. The event is a value and stays as it is: `Evidence(snapshot=..., annotated=...)`
    of the returned paths is what a new version of it records.
    """
    clean = evidence_path(folder, event, ".jpg")
    annotated = evidence_path(folder, event, "_annotated.jpg")
    _write_jpeg(frame.image, clean)
    _write_jpeg(draw_detections(frame.image, detections, class_names), annotated)
    return clean, annotated


def _write_jpeg(image: np.ndarray, path: Path) -> None:
    # Written beside and renamed into place, so a reader (the dashboard, an alert) never gets half a file.
    # Pictures of people: 0600, in folders made 0700.
    make_private_dirs(path.parent)
    partial = path.with_name(path.name + ".part")
    with open_private(partial) as out:
        Image.fromarray(image).save(out, format="JPEG", quality=JPEG_QUALITY)
    os.replace(partial, path)
