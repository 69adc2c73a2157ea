"""A site's own false alarms as training data: the frames the detector got wrong in the scenes it watches.

Hard negatives mined from photos teach what was mined and nothing more (README, "Toward camera views": a model
trained on them alarmed on a table's metal base no photo showed). What a site's cameras film is only in the
site's own frames, and the frames that matter are those people already judged: every event marked a false
alarm. This writes the clean best frame of each (never the annotated one: drawn boxes would become a cue) as a
gun-free image, in the YOLO layout with one folder per camera, with a manifest saying which event, score and
box each came from, and a split file that puts every frame in `train`, ready for a training config's
`extra_train`. Exporting again into the same folder adds the new false alarms and keeps the old ones.
"""

from __future__ import annotations

import io
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from PIL import Image, UnidentifiedImageError

from gunwatch.events.evidence import evidence_path, safe_name
from gunwatch.events.private import make_private_dirs
from gunwatch.events.site_frames import IMAGES, finish_folder, label_path, read_manifest, write_private
from gunwatch.events.store.store import EventStore, JudgedEvent

COMMAND = "gunwatch data false-alarms"


@dataclass
class ExportSummary:
    """What an export wrote: new frames by camera, frames already there, and false alarms whose best frame
    could not be had (pruned by retention, never written, unreadable), each with why."""

    out: Path
    written: Counter[str] = field(default_factory=Counter)
    already_there: int = 0
    missing: list[tuple[str, str, str]] = field(default_factory=list)  # (event id, camera, why)
    total: int = 0  # frames in the folder after the export


def export_false_alarms(store: EventStore, out: Path, *, since: float | None = None,
                        cameras: list[str] | None = None) -> ExportSummary:
    """Write every false alarm's clean best frame under `out` (see the module's docstring)."""
    summary = ExportSummary(Path(out))
    make_private_dirs(summary.out)  # pictures of people: 0700 folders, 0600 files, as the evidence itself
    # A frame deleted from images/ by hand stays out (someone judged it unfit), and is not exported again.
    manifest = read_manifest(summary.out, COMMAND)
    for judged in store.judged_events("false_alarm", since=since, cameras=cameras):
        key = frame_key(judged)
        if key in manifest:
            summary.already_there += 1
            continue
        why = _copy_frame(judged, summary.out / IMAGES / key)
        if why is not None:
            summary.missing.append((judged.event.id, judged.event.camera, why))
            continue
        write_private(label_path(summary.out, key), b"")  # empty: no gun in it
        manifest[key] = _manifest_entry(judged)
        summary.written[judged.event.camera] += 1
    keys = finish_folder(summary.out, manifest, f"{COMMAND}: gun-free frames of a site's false alarms")
    summary.total = len(keys)
    return summary


def frame_key(judged: JudgedEvent) -> str:
    """CAMERA/CAMERA_YYYYMMDDTHHMMSSZ_ID8.jpg: the evidence file's own name, in a folder per camera."""
    return f"{safe_name(judged.event.camera)}/{evidence_path(Path(), judged.event, '.jpg').name}"


def _copy_frame(judged: JudgedEvent, destination: Path) -> str | None:
    """Copy the event's clean best frame; returns why it could not, or None."""
    source = judged.event.evidence.snapshot
    if not source:
        return "no best frame was written for it"
    try:
        data = Path(source).read_bytes()
    except FileNotFoundError:
        return f"its best frame {source} is gone (pruned by retention?)"
    except OSError as error:
        return f"cannot read its best frame {source}: {error.strerror or error}"
    try:
        with Image.open(io.BytesIO(data)) as image:
            image.verify()
    except (UnidentifiedImageError, OSError, SyntaxError) as error:
        return f"its best frame {source} is not a readable image ({error})"
    write_private(destination, data)
    return None


def _manifest_entry(judged: JudgedEvent) -> dict[str, object]:
    event = judged.event
    return {"key": frame_key(judged), "event_id": event.id, "camera": event.camera, "zone": event.zone,
            "confirmed_at": event.confirmed_at, "max_score": round(event.max_score, 4),
            "fired_box": [round(v, 1) for v in event.best_box], "false_alarm_by": judged.actor,
            "false_alarm_at": judged.at, "note": judged.note}
