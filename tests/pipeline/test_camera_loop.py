"""What a camera's analysed frame shows: the boxes that count (guns where guns count, at or over the camera's
threshold) on the picture people receive, and the top gun score of the last seconds, an "almost" or not.

A real camera loop (its source built, never started: frames are handed to it as the camera thread would), the
real confirmer and the real evidence files; the detections are the detector's answer, written out.
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from gunwatch.config import parse_site_config
from gunwatch.events.evidence import write_snapshots
from gunwatch.inference.detections import Detections
from gunwatch.pipeline.camera_loop import CameraLoop, next_sample_due
from gunwatch.pipeline.recent import RecentActivity
from gunwatch.video.frame import Frame
from gunwatch.video.sources import camera_source
from support.stand_in_cameras import GREY, write_clip

CLASSES = ("person", "handgun")
PERSON, HANDGUN = 0, 1
SIZE = (480, 360)
GUN = (100, 80, 200, 200)  # in the man's hand
TRIPOD = (260, 200, 340, 340)  # a tripod the model half takes for a gun
MAN = (80, 40, 240, 350)
POSTER = (380, 10, 460, 80)  # a gun on a poster, under the camera's mask (the top right corner)


def camera_loop(tmp_path: Path, motion: str = "{}") -> CameraLoop:
    clip = write_clip(tmp_path / "lobby.mp4", GREY)
    site = parse_site_config(f"""
cameras:
  lobby:
    url: "{clip}"
    detect: {{threshold: 0.5}}
    masks: [[[0.75, 0], [1, 0], [1, 0.25], [0.75, 0.25]]]
confirmation: {{window: 1, min_hits: 1}}
motion: {motion}
evidence: {{folder: "{tmp_path / 'evidence'}"}}
""")
    camera = site.cameras["lobby"]
    # The model's own threshold is lower: the camera's 0.5 is the one that counts.
    return CameraLoop("lobby", camera, camera_source("lobby", camera), site, 0.3, CLASSES, HANDGUN)


def frame(index: int = 0, received: float | None = None) -> Frame:
    return Frame("lobby", np.full((SIZE[1], SIZE[0], 3), 128, np.uint8), index, None,
                 time.time() if received is None else received)


def found(*boxes: tuple[tuple[float, float, float, float], float, int]) -> Detections:
    return Detections([box for box, _, _ in boxes], [score for _, score, _ in boxes], [cls for _, _, cls in boxes])


def drawn(folder: Path, loop: CameraLoop, picture: Frame, detections: Detections) -> np.ndarray:
    """The detections through the loop (an event must open), the snapshots written as the pipeline writes them:
    per pixel, how far the annotated JPEG is from the clean one."""
    finished = loop.finish(picture, detections, 12.0)
    [opened] = finished.changes
    assert opened.state == "open"
    clean, annotated = write_snapshots(opened, picture, finished.shown, folder, class_names=CLASSES)
    plain = np.asarray(Image.open(clean).convert("RGB")).astype(int)
    return np.abs(np.asarray(Image.open(annotated).convert("RGB")).astype(int) - plain).sum(axis=2)


def outline(difference: np.ndarray, box: tuple[float, float, float, float]) -> int:
    """The least change along the box's left and bottom edges (high: drawn all along; low: not drawn)."""
    x1, y1, x2, y2 = (int(v) for v in box)
    left = difference[y1 + 2:y2 - 2, x1:x1 + 2].max(axis=1)
    bottom = difference[y2 - 2:y2 + 1, x1 + 2:x2 - 2].max(axis=0)
    return int(min(left.min(), bottom.min()))


def test_only_the_gun_that_counts_is_drawn_not_the_tripod_below_the_threshold(tmp_path: Path) -> None:
    loop = camera_loop(tmp_path)
    difference = drawn(tmp_path, loop, frame(), found((GUN, 0.9, HANDGUN), (TRIPOD, 0.3, HANDGUN), (MAN, 0.95, PERSON)))
    assert outline(difference, GUN) > 150
    assert difference[GUN[1] - 12:GUN[1], GUN[0]:GUN[0] + 40].max() > 150  # its "handgun 0.90" label
    assert outline(difference, TRIPOD) < 30
    assert difference[TRIPOD[1] - 14:TRIPOD[3] + 2, TRIPOD[0] - 2:TRIPOD[2] + 2].max() < 30  # nor its label
    assert outline(difference, MAN) < 30  # only guns: a box around the man would hide the one that matters


def test_the_box_that_fired_is_drawn_though_a_masked_gun_scores_higher(tmp_path: Path) -> None:
    loop = camera_loop(tmp_path)
    detections = found((POSTER, 0.97, HANDGUN), (GUN, 0.6, HANDGUN), (TRIPOD, 0.45, HANDGUN))
    difference = drawn(tmp_path, loop, frame(), detections)
    assert outline(difference, GUN) > 150
    assert outline(difference, POSTER) < 30 and outline(difference, TRIPOD) < 30
    # Nor is the poster an "almost": it can never become an alarm on this camera.
    assert loop.recent.rates().top_score == pytest.approx(0.6)


def test_a_gun_below_the_threshold_is_an_almost_drawn_nowhere(tmp_path: Path) -> None:
    loop = camera_loop(tmp_path)
    clock = [100.0]
    loop.recent = RecentActivity(window_s=5.0, clock=lambda: clock[0])
    finished = loop.finish(frame(0), found((GUN, 0.42, HANDGUN), (MAN, 0.95, PERSON)), 12.0)
    assert finished.changes == [] and len(finished.shown) == 0
    assert loop.recent.rates().top_score == pytest.approx(0.42)
    clock[0] += 2.0
    loop.finish(frame(1), found((GUN, 0.31, HANDGUN)), 12.0)
    assert loop.recent.rates().top_score == pytest.approx(0.42)  # the highest of the last seconds
    clock[0] += 4.0  # the 0.42 is over 5 s old
    assert loop.recent.rates().top_score == pytest.approx(0.31)
    newest = loop.recent.newest()
    assert newest is not None and newest.frame.index == 1 and len(newest.shown) == 0


class OneFrame:
    """The loop's source, handed one frame at a time as the camera thread would publish it."""

    def __init__(self) -> None:
        self.frame: Frame | None = None

    def latest(self, after: int = -1) -> Frame | None:
        return self.frame if self.frame is not None and self.frame.index > after else None


def analysed_of_a_still_picture(loop: CameraLoop, guns: list[float]) -> list[bool]:
    """One still picture sampled at 5 fps (under the 2 s forced check) while the detector finds a gun scoring
    guns[i] in the i-th analysed frame (0: none): which samples were analysed."""
    source = OneFrame()
    loop.source = source  # type: ignore[assignment]
    taken, scores = [], iter(guns)
    for index in range(len(guns)):
        source.frame = frame(index, received=100.0 + 0.2 * index)
        picked = loop.take(source.frame.received)
        taken.append(picked is not None)
        if picked is not None:
            score = next(scores)
            loop.finish(picked, found((GUN, score, HANDGUN)) if score else found(), 12.0)
    return taken


def test_a_gun_held_still_has_every_sample_analysed_though_the_picture_does_not_move(tmp_path: Path) -> None:
    # The motion gate finds every frame after the first still; the gun seen in the first keeps it open.
    held = camera_loop(tmp_path / "held")
    assert analysed_of_a_still_picture(held, [0.7] * 9) == [True] * 9
    assert held.counters.still == 0 and held.counters.analysed == 9
    # Without a gun, or with one under motion.gun_hold_score, the picture waits for the forced check.
    for score, folder in ((0.0, "none"), (0.3, "weak")):
        loop = camera_loop(tmp_path / folder)
        assert analysed_of_a_still_picture(loop, [score] * 9) == [True] + [False] * 8
        assert loop.counters.still == 8
    # Switched off, motion alone decides.
    off = camera_loop(tmp_path / "off", "{gun_hold_score: null}")
    assert analysed_of_a_still_picture(off, [0.9] * 9) == [True] + [False] * 8


def test_the_hold_ends_a_forced_check_after_the_gun_was_last_seen(tmp_path: Path) -> None:
    # The gun in the first 3 frames (0.0-0.4 s), then gone: held through 2.4 s (motion.forced_check_s after the
    # last sighting), then still again.
    loop = camera_loop(tmp_path)
    taken = analysed_of_a_still_picture(loop, [0.8] * 3 + [0.0] * 9 + [0.0] * 3)
    assert taken == [True] * 13 + [False] * 2


@pytest.mark.parametrize("seed", range(5))
def test_the_sampling_schedule_keeps_its_rate_however_late_each_sample_is_taken(seed: int) -> None:
    # A camera thread that polls when it can: each sample taken anywhere from on time to 3 periods late (a
    # slow detector call, a starved thread), the next poll a random moment later. Counted in every window:
    # at most W / period + 2 samples, which is the bound the capacity bench's test relies on.
    rng = np.random.default_rng(seed)
    period, due, now, taken = 0.2, 0.0, 0.0, []
    while now < 60:
        now += float(rng.choice([0.0, rng.uniform(0, 0.05), rng.uniform(0, 3 * period)]))
        if now >= due:
            taken.append(now)
            due = next_sample_due(due, period, now)
    times = np.array(taken)
    gaps = np.diff(times)
    assert (gaps < period).any() and (gaps > 2 * period).any()  # both kinds of gap occurred
    for window in (0.5, 2.0, 10.0):
        most = max(int(np.searchsorted(times, start + window, side="right")) - i for i, start in enumerate(times))
        assert most <= window / period + 2
    assert len(times) <= 60 / period + 2
