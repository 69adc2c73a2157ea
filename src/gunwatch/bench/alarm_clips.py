"""The alarm benchmark's clips: every video under the given folders (`.mp4`, `.mov`, `.mkv`, ... in any case: a
phone's `IMG_0042.MOV` too), each with its `NAME.json` sidecar.

A sidecar says when a handgun is in view, and optionally where:

    {"episodes": [[3.0, 6.8]],                                  # seconds from the clip's first frame; [] = gun-free
     "boxes": [{"t": 4.0, "xyxy": [240, 150, 267, 178]}, ...]}  # optional: guns at some times, in frame pixels

Other keys (`source`, `what`, ...) are ignored. Boxes may also come from an overlay folder (the repository's
`sidecars/`, for clips whose own sidecars cannot be edited): `OVERLAY/NAME.json` with `boxes` adds to the
clip's boxes. Several guns at one time are several entries with the same `t`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from gunwatch.bench.alarm_matching import Episode, GunBox
from gunwatch.video.files import VIDEO_SUFFIXES

OVERLAY_DIR = Path(__file__).resolve().parents[3] / "sidecars"  # absent in an installed package: no overlay


class SidecarError(ValueError):
    """A missing or malformed sidecar, named by its file and key."""


@dataclass(frozen=True)
class BenchClip:
    name: str  # relative to the folder it was found under, without the suffix: "negatives/vtest"
    path: Path
    episodes: tuple[Episode, ...]
    boxes: tuple[GunBox, ...] = ()

    @property
    def gun_free(self) -> bool:
        return not self.episodes


def _fail(path: Path, key: str, message: str) -> SidecarError:
    return SidecarError(f"{path}: {key}: {message}")


def _number(value: object, path: Path, key: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise _fail(path, key, f"must be a number, got {value!r}")
    return float(value)


def parse_episodes(value: object, path: Path) -> tuple[Episode, ...]:
    if not isinstance(value, list):
        raise _fail(path, "episodes", f"must be a list of [start_s, end_s] pairs, got {value!r}")
    episodes = []
    for i, pair in enumerate(value):
        key = f"episodes[{i}]"
        if not isinstance(pair, list) or len(pair) != 2:
            raise _fail(path, key, f"must be a [start_s, end_s] pair, got {pair!r}")
        start, end = (_number(v, path, key) for v in pair)
        if not 0 <= start < end:
            raise _fail(path, key, f"needs 0 <= start < end, got [{start:g}, {end:g}]")
        episodes.append(Episode(start, end))
    return tuple(episodes)


def parse_boxes(value: object, path: Path) -> tuple[GunBox, ...]:
    if not isinstance(value, list):
        raise _fail(path, "boxes", f"must be a list of {{\"t\": s, \"xyxy\": [x1, y1, x2, y2]}}, got {value!r}")
    boxes = []
    for i, item in enumerate(value):
        key = f"boxes[{i}]"
        if not isinstance(item, dict) or set(item) - {"t", "xyxy", "note"} or not {"t", "xyxy"} <= set(item):
            raise _fail(path, key, f"must be {{\"t\": s, \"xyxy\": [x1, y1, x2, y2]}}, got {item!r}")
        t = _number(item["t"], path, f"{key}.t")
        xyxy = item["xyxy"]
        if not isinstance(xyxy, list) or len(xyxy) != 4:
            raise _fail(path, f"{key}.xyxy", f"must be [x1, y1, x2, y2], got {xyxy!r}")
        x1, y1, x2, y2 = (_number(v, path, f"{key}.xyxy") for v in xyxy)
        if not (x1 < x2 and y1 < y2) or t < 0:
            raise _fail(path, key, f"needs t >= 0, x1 < x2 and y1 < y2, got t {t:g}, {xyxy}")
        boxes.append(GunBox(t, (x1, y1, x2, y2)))
    return tuple(boxes)


def _read_json(path: Path) -> dict[str, object]:
    try:
        data = json.loads(path.read_text())
    except FileNotFoundError:
        raise SidecarError(f"{path}: missing (each clip needs NAME.json beside it with 'episodes')") from None
    except (OSError, ValueError) as error:
        raise SidecarError(f"{path}: not readable JSON: {error}") from None
    if not isinstance(data, dict):
        raise SidecarError(f"{path}: must be a JSON object with 'episodes'")
    return data


def read_clip(path: Path, name: str, overlay: Path | None = OVERLAY_DIR) -> BenchClip:
    sidecar = path.with_suffix(".json")
    data = _read_json(sidecar)
    if "episodes" not in data:
        raise _fail(sidecar, "episodes", "missing (use [] for a clip without guns)")
    episodes = parse_episodes(data["episodes"], sidecar)
    boxes = parse_boxes(data["boxes"], sidecar) if "boxes" in data else ()
    extra = overlay / sidecar.name if overlay is not None else None
    if extra is not None and extra.is_file():
        added = _read_json(extra)
        if set(added) - {"boxes", "note"}:
            raise SidecarError(f"{extra}: an overlay holds only 'boxes' (and a 'note'), got {sorted(added)}")
        boxes += parse_boxes(added.get("boxes", []), extra)
    return BenchClip(name, path, episodes, tuple(sorted(boxes, key=lambda b: b.t)))


def find_clips(folders: list[Path], overlay: Path | None = OVERLAY_DIR) -> list[BenchClip]:
    """Every video under the folders (recursively, by suffix in any case; hidden files, such as a Mac's
    `._NAME.mp4`, left out; a clip found twice is read once), with its sidecar."""
    clips, seen = [], set()
    for folder in folders:
        if not folder.is_dir():
            raise SidecarError(f"{folder}: not a folder of clips")
        for path in sorted(folder.rglob("*")):
            if path.suffix.lower() not in VIDEO_SUFFIXES or path.name.startswith(".") or not path.is_file():
                continue
            if path.resolve() in seen:
                continue
            seen.add(path.resolve())
            clips.append(read_clip(path, path.relative_to(folder).with_suffix("").as_posix(), overlay))
    if not clips:
        raise SidecarError(f"no video clips ({', '.join(VIDEO_SUFFIXES)}) under "
                           f"{', '.join(str(f) for f in folders)}")
    return clips
