"""A site's drill recordings as training data: its own cameras' views of a held gun, labelled by the detector.

Web photos teach the network what a gun looks like; only a site's cameras show its rooms, angles and light, and
the verifier trained on photos misses guns in a hall it has never seen (README, "Teaching gunwatch a site's
guns"). A drill (someone walks past the cameras with a replica or a cleared training gun) recorded by each
camera is footage of a held gun in exactly those views. Its sidecar, the alarm benchmark's `NAME.json`, says
when the gun is in view; the detector says where:

- frames are sampled at `fps` by their timestamps. One inside an episode, more than `margin_s` from its ends
  (a person's times are approximate), gets the detector's best gun candidates that a person holds (the second
  look's reach rule) and that score at least `min_score`, at most `guns_per_frame`, as its labels; one without
  such a candidate is left out (its gun is there, unlabelled, and must not teach "no gun").
- frames more than `margin_s` outside every episode are gun-free: every candidate the detector proposes on them
  becomes a not-gun in the verifier's training, as the site's false alarms do.

A label is the detector's own box, so it can be wrong (a hand, a phone, the person's sleeve): the contact sheet
written beside the frames shows every new label for a person to check, and a frame deleted from `images/` by
hand stays out (`events/site_frames.py`).
"""

from __future__ import annotations

import io
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

from gunwatch.events.evidence import safe_name, write_jpeg
from gunwatch.events.site_frames import IMAGES, finish_folder, label_path, read_manifest, write_private
from gunwatch.inference.base import Detector
from gunwatch.inference.detections import Detections
from gunwatch.inference.person_crops import SecondLookParams
from gunwatch.inference.second_look import GUN_LABEL, PERSON_LABEL, held_mask
from gunwatch.video.files import Frame, video_frames

COMMAND = "gunwatch data drill"
SHEET_TILE, SHEET_COLUMNS, SHEET_CONTEXT = 160, 8, 2.5

Span = tuple[float, float]  # seconds from the clip's first frame


@dataclass(frozen=True)
class DrillSettings:
    fps: float = 2.0  # frames sampled a second
    margin_s: float = 0.5  # frames this close to an episode's start or end are not used
    min_score: float = 0.3  # a candidate's score (the detector's, with the verifier when it has one)
    guns_per_frame: int = 1  # labels at most in one frame (a drill usually shows one gun)


@dataclass
class DrillSummary:
    labelled: int = 0  # new frames with a gun labelled
    gun_free: int = 0  # new frames outside every episode
    unlabelled: int = 0  # frames inside an episode left out: no held candidate at min_score
    already_there: int = 0  # frames exported before (or deleted by hand since)
    total: int = 0  # frames in the folder after the export
    sheet: Path | None = None  # the contact sheet of the new labels
    scores: list[float] = field(default_factory=list)  # the new labels' scores


def in_spans(t: float, spans: Iterable[Span], margin_s: float) -> bool:
    return any(start + margin_s <= t <= end - margin_s for start, end in spans)


def near_spans(t: float, spans: Iterable[Span], margin_s: float) -> bool:
    return any(start - margin_s <= t <= end + margin_s for start, end in spans)


def sampled(frames: Iterable[Frame], fps: float) -> Iterator[tuple[float, Frame]]:
    """(seconds from the first frame, frame): the first frame at or after each multiple of 1 / fps seconds of the
    clip's own timestamps (a file without them: 25 fps)."""
    first, due = None, 0.0
    for frame in frames:
        time_s = frame.time_s if frame.time_s is not None else frame.index / 25.0
        first = time_s if first is None else first
        t = time_s - first
        if t + 1e-6 >= due:
            while due <= t + 1e-6:  # the next multiple after this frame: a fixed grid, never a drift
                due += 1.0 / fps
            yield t, frame


def held_guns(detections: Detections, class_names: tuple[str, ...], params: SecondLookParams,
              settings: DrillSettings) -> Detections:
    """The best gun candidates a person holds, at `min_score` or over: a drill frame's labels."""
    gun_id, person_id = class_names.index(GUN_LABEL), class_names.index(PERSON_LABEL)
    guns, people = detections.of_class(gun_id), detections.of_class(person_id)
    people = people[people.scores >= params.person_min_score]
    keep = held_mask(guns.xyxy, people.xyxy, params) & (guns.scores >= settings.min_score)
    chosen = guns[keep]
    order = np.argsort(-chosen.scores, kind="stable")[: settings.guns_per_frame]
    return chosen[order]


def frame_key(camera: str, clip: Path, t: float) -> str:
    """CAMERA/CAMERA_CLIP_t000012.50.jpg"""
    name = safe_name(camera)
    return f"{name}/{name}_{safe_name(clip.stem)}_t{t:09.2f}.jpg"


def export_drill(clip: Path, episodes: list[Span], out: Path, detector: Detector, camera: str | None = None,
                 settings: DrillSettings = DrillSettings(), params: SecondLookParams | None = None,
                 progress: Callable[[float], None] | None = None) -> DrillSummary:
    """Add the drill `clip`'s sampled frames to the folder `out` (see the module's docstring); `progress` hears
    each sampled frame's time."""
    if not episodes:
        raise ValueError(f"{clip}: a drill needs the times its gun is in view (its sidecar's episodes are empty)")
    if not {GUN_LABEL, PERSON_LABEL} <= set(detector.class_names):
        raise ValueError(f"{detector.name}: labelling a drill needs a detector of people and guns, this one finds "
                         f"{', '.join(detector.class_names)}")
    camera, params = camera or clip.stem, params or SecondLookParams()
    summary, sheet = DrillSummary(), []
    manifest = read_manifest(out, COMMAND)
    try:
        for t, frame in sampled(video_frames(clip), settings.fps):
            if progress is not None:
                progress(t)
            key = frame_key(camera, clip, t)
            inside, near = in_spans(t, episodes, settings.margin_s), near_spans(t, episodes, settings.margin_s)
            if near and not inside:
                continue  # at an episode's edge: whether the gun shows is not known
            if key in manifest:
                summary.already_there += 1
                continue
            labels = held_guns(detector.detect([frame.image])[0], detector.class_names, params, settings) \
                if inside else Detections([], [], [])
            if inside and not len(labels):
                summary.unlabelled += 1
                continue
            _write_frame(out, key, frame.image, labels)
            manifest[key] = {"key": key, "camera": camera, "clip": str(clip), "t": round(t, 3), "gun": inside,
                             "boxes": [[round(float(v), 1) for v in box] for box in labels.xyxy],
                             "scores": [round(float(s), 4) for s in labels.scores]}
            if inside:
                summary.labelled += 1
                summary.scores += [float(s) for s in labels.scores]
                sheet += [sheet_tile(frame.image, box, float(score), t)
                          for box, score in zip(labels.xyxy, labels.scores, strict=True)]
            else:
                summary.gun_free += 1
    finally:  # a clip that breaks off, or a detector that fails, keeps the frames written before
        summary.total = len(finish_folder(out, manifest, f"{COMMAND}: frames of a site's drills, guns labelled by "
                                                         "the detector"))
        if sheet:
            summary.sheet = out / "sheets" / f"{safe_name(camera)}_{safe_name(clip.stem)}.jpg"
            write_private(summary.sheet, contact_sheet(sheet))
    return summary


def _write_frame(out: Path, key: str, image: np.ndarray, labels: Detections) -> None:
    write_jpeg(image, out / IMAGES / key, quality=92)
    height, width = image.shape[:2]
    lines = [f"0 {(x1 + x2) / 2 / width:.6f} {(y1 + y2) / 2 / height:.6f} {(x2 - x1) / width:.6f} "
             f"{(y2 - y1) / height:.6f}\n" for x1, y1, x2, y2 in labels.xyxy.tolist()]
    write_private(label_path(out, key), "".join(lines).encode())


def sheet_tile(image: np.ndarray, box: np.ndarray, score: float, t: float) -> Image.Image:
    """The label's box with some context around it, boxed in red, with its score and time."""
    x1, y1, x2, y2 = (float(v) for v in box)
    side = max(x2 - x1, y2 - y1, 16.0) * SHEET_CONTEXT
    left, top = (x1 + x2 - side) / 2, (y1 + y2 - side) / 2
    tile = Image.fromarray(image).crop((round(left), round(top), round(left + side), round(top + side)))
    tile = tile.resize((SHEET_TILE, SHEET_TILE))
    scale = SHEET_TILE / side
    draw = ImageDraw.Draw(tile)
    draw.rectangle(((x1 - left) * scale, (y1 - top) * scale, (x2 - left) * scale, (y2 - top) * scale),
                   outline=(255, 40, 40), width=2)
    draw.text((4, 4), f"{score:.2f} t={t:.1f}s", fill=(255, 255, 0))
    return tile


def contact_sheet(tiles: list[Image.Image]) -> bytes:
    """The tiles in rows of SHEET_COLUMNS: a JPEG. Not `metrics.plots.plot_gallery`: that one saves a PNG
    through matplotlib with the process's default permissions, and a site's footage is written 0600 only
    (`write_private`), from bytes."""
    rows = (len(tiles) + SHEET_COLUMNS - 1) // SHEET_COLUMNS
    sheet = Image.new("RGB", (SHEET_COLUMNS * SHEET_TILE, rows * SHEET_TILE), (40, 40, 40))
    for number, tile in enumerate(tiles):
        sheet.paste(tile, ((number % SHEET_COLUMNS) * SHEET_TILE, (number // SHEET_COLUMNS) * SHEET_TILE))
    buffer = io.BytesIO()
    sheet.save(buffer, format="JPEG", quality=85)
    return buffer.getvalue()
