"""Evidence files of a threat event: where they go, and the best frame as JPEGs, clean and annotated.

The annotated JPEG is the picture people receive (`picture_to_send`): it shows the box that fired, labelled
with its score, and the other boxes that count, never the weak ones (a verifier shown a box on a tripod at
0.3 beside an undrawn gun confirms the wrong thing). The clean JPEG stays beside it for the event's page.
"""

from __future__ import annotations

import os
import re
import time
from pathlib import Path

import numpy as np
from PIL import Image

from gunwatch import GUN_LABEL
from gunwatch.events.model import Evidence, ThreatEvent
from gunwatch.events.private import make_private_dirs, open_private
from gunwatch.inference.detections import Detections
from gunwatch.video.annotate import draw_detections
from gunwatch.video.frame import Frame

JPEG_QUALITY = 90  # a person must be able to recognise the object; 90 keeps edges at a third of PNG's size

_UNSAFE = re.compile(r"[^A-Za-z0-9_-]")


def safe_name(text: str) -> str:
    """`text` as a file or folder name: anything but letters, digits, `_` and `-` becomes `_`."""
    return _UNSAFE.sub("_", text)


def evidence_path(folder: Path, event: ThreatEvent, suffix: str) -> Path:
    """FOLDER/CAMERA/CAMERA_YYYYMMDDTHHMMSSZ_ID8SUFFIX: one folder per camera, an event's files side by side.

    The time is when the event opened, in UTC (no daylight-saving repeats); the event id's first 8 hex digits
    tell apart two events opened within the same second. The camera is in the name too, so a file copied
    out of its folder still says where it came from.
    """
    camera = safe_name(event.camera)  # config names are safe already; this guards other callers
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(event.confirmed_at))
    return Path(folder) / camera / f"{camera}_{stamp}_{event.id[:8]}{suffix}"


def picture_to_send(evidence: Evidence) -> str | None:
    """The event's picture for every channel and page that carries one: the annotated best frame, else (an
    older event, written before there was one) the clean frame; None before either is written."""
    return evidence.annotated or evidence.snapshot


def write_snapshots(
    event: ThreatEvent, frame: Frame, shown: Detections, folder: Path, *, class_names: tuple[str, ...]
) -> tuple[Path, Path]:
    """Write the event's best frame as a clean and an annotated JPEG; returns their paths (clean, annotated).

    `shown`: the boxes that count on `frame` (the pipeline's `CameraLoop.finish` gives them: guns where guns
    count, at or over the camera's threshold), in `frame`'s pixels; `class_names` are the detector's. The box
    that fired (the event's best box on this frame, made by it) is drawn with its score whether or not it is
    among them. Called again with a better frame, it replaces the files. About 30 ms for a 1080p frame: fine
    at an event's opening, not on every frame. The event is a value and stays as it is:
    `Evidence(snapshot=..., annotated=...)` of the returned paths is what a new version of it records.
    """
    clean = evidence_path(folder, event, ".jpg")
    annotated = evidence_path(folder, event, "_annotated.jpg")
    write_jpeg(frame.image, clean)
    write_jpeg(draw_detections(frame.image, with_fired_box(event, shown, class_names), class_names), annotated)
    return clean, annotated


def with_fired_box(event: ThreatEvent, shown: Detections, class_names: tuple[str, ...]) -> Detections:
    """`shown` with the event's best box at its score, unless one of them is that box already."""
    fired = np.asarray(event.best_box, np.float32)
    if len(shown) and np.any(np.all(np.abs(shown.xyxy - fired) < 0.5, axis=1)):  # the tracker keeps the box
        return shown
    gun = class_names.index(GUN_LABEL) if GUN_LABEL in class_names else 0  # a model without one: its first
    return Detections(np.vstack([shown.xyxy, fired[None]]), np.append(shown.scores, event.max_score),
                      np.append(shown.class_ids, gun))


def write_jpeg(image: np.ndarray, path: Path, quality: int = JPEG_QUALITY) -> None:
    # Written beside and renamed into place, so a reader (the dashboard, an alert) never gets half a file.
    # Pictures of people: 0600, in folders made 0700.
    make_private_dirs(path.parent)
    partial = path.with_name(path.name + ".part")
    with open_private(partial) as out:
        Image.fromarray(image).save(out, format="JPEG", quality=quality)
    os.replace(partial, path)
