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
import json
import re
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from PIL import Image, UnidentifiedImageError

from gunwatch.events.evidence import evidence_path
from gunwatch.events.private import make_private_dirs, open_private
from gunwatch.events.store.store import EventStore, JudgedEvent

IMAGES, LABELS = "images", "labels"
MANIFEST, SPLIT, NAMES = "manifest.jsonl", "split.json", "data.yaml"
_UNSAFE = re.compile(r"[^A-Za-z0-9_-]")


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
    manifest = _read_manifest(summary.out / MANIFEST)
    for judged in store.judged_events("false_alarm", since=since, cameras=cameras):
        key = frame_key(judged)
        if key in manifest:
            summary.already_there += 1
            continue
        why = _copy_frame(judged, summary.out / IMAGES / key)
        if why is not None:
            summary.missing.append((judged.event.id, judged.event.camera, why))
            continue
        _write_private(summary.out / LABELS / Path(key).with_suffix(".txt"), b"")  # empty: no gun in it
        manifest[key] = _manifest_entry(judged)
        summary.written[judged.event.camera] += 1
    _write_private(summary.out / MANIFEST, "".join(json.dumps(e) + "\n" for e in manifest.values()).encode())
    keys = sorted(key for key in manifest if (summary.out / IMAGES / key).is_file())
    for key in manifest.keys() - set(keys):  # its frame deleted by hand: its label would be an orphan
        (summary.out / LABELS / Path(key).with_suffix(".txt")).unlink(missing_ok=True)
    _write_private(summary.out / NAMES, b"# gunwatch data false-alarms: gun-free frames of a site's false alarms\n"
                                        b"names: [handgun]\n")
    split = {"dataset": summary.out.name, "seed": 0, "fractions": {}, "train": keys, "val": [], "test": []}
    _write_private(summary.out / SPLIT, (json.dumps(split, indent=1) + "\n").encode())
    summary.total = len(keys)
    return summary


def frame_key(judged: JudgedEvent) -> str:
    """CAMERA/CAMERA_YYYYMMDDTHHMMSSZ_ID8.jpg: the evidence file's own name, in a folder per camera."""
    return f"{_UNSAFE.sub('_', judged.event.camera)}/{evidence_path(Path(), judged.event, '.jpg').name}"


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
    _write_private(destination, data)
    return None


def _manifest_entry(judged: JudgedEvent) -> dict[str, object]:
    event = judged.event
    return {"key": frame_key(judged), "event_id": event.id, "camera": event.camera, "zone": event.zone,
            "confirmed_at": event.confirmed_at, "max_score": round(event.max_score, 4),
            "fired_box": [round(v, 1) for v in event.best_box], "false_alarm_by": judged.actor,
            "false_alarm_at": judged.at, "note": judged.note}


def _read_manifest(path: Path) -> dict[str, dict[str, object]]:
    if not path.is_file():
        return {}
    entries = {}
    for number, line in enumerate(path.read_text().splitlines(), start=1):
        try:
            entry = json.loads(line) if line.strip() else None
            if entry is not None:
                entries[str(entry["key"])] = entry
        except (json.JSONDecodeError, KeyError, TypeError) as error:
            raise ValueError(f"{path}:{number}: not a manifest entry of `gunwatch data false-alarms` ({error})") \
                from error
    return entries


def _write_private(path: Path, data: bytes) -> None:
    make_private_dirs(path.parent)
    with open_private(path) as out:
        out.write(data)
