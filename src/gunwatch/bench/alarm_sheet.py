"""A contact sheet per setting: every alarm's best frame with its box, for a person to check.

Each cell is the event's best frame (the evidence a site would see), the alarm's best box in red with its
score, the sidecar's gun boxes near that time in green, titled with the clip, when the event opened, the best
frame's time and score, and the verdict. Where no box could be checked ("unchecked"), the sheet is the check.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from gunwatch.bench.alarm_matching import gun_boxes_near
from gunwatch.bench.alarm_replay import ClipPlay
from gunwatch.bench.alarms import SettingRun
from gunwatch.metrics.plots import GalleryItem, plot_gallery


def sheet_name(run: SettingRun) -> str:
    s = run.setting
    quick = f"-q{s.quick.margin:.2f}-{s.quick.hits}of{s.quick.window}" if s.quick else ""
    return f"alarms-t{s.threshold:.2f}-{s.min_hits}of{s.window}{quick}.png"


def short_name(name: str, limit: int = 40) -> str:
    """A clip name that fits a cell's title: the middle elided."""
    if len(name) <= limit:
        return name
    keep = (limit - 1) // 2
    return f"{name[:keep]}…{name[-keep:]}"


def sheet_items(run: SettingRun, plays: dict[str, ClipPlay], gap_s: float) -> list[GalleryItem]:
    items = []
    for result in run.clips:
        play = plays[result.label]
        for event, alarm, verdict in zip(result.events, result.alarms, result.match.verdicts, strict=True):
            picture = play.pictures.get(event.best_index)
            if picture is None:  # cannot happen: the best frame holds a gun at or above the threshold
                continue
            guns = np.array(gun_boxes_near(alarm.best_at, result.clip.boxes, gap_s), np.float64).reshape(-1, 4)
            boxes = np.array([alarm.best_box], np.float64)
            title = (f"{short_name(result.label)}\nopened {alarm.confirmed_at:.1f} s, best {alarm.best_at:.1f} s "
                     f"{alarm.score:.2f}: {'TRUE' if verdict.true else 'FALSE'}, {verdict.verdict}")
            items.append(GalleryItem(picture.image(), guns * picture.scale, boxes * picture.scale,
                                     np.full(len(boxes), alarm.score), title))
    return items


def write_sheet(run: SettingRun, plays: dict[str, ClipPlay], folder: Path, gap_s: float) -> Path:
    return plot_gallery(sheet_items(run, plays, gap_s), folder / sheet_name(run), columns=4)
