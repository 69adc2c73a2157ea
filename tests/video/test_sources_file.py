"""Video files and image folders played as cameras: real pace, newest frame only, loops."""

from __future__ import annotations

import os
import threading
import time
from itertools import pairwise
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from gunwatch.config import Camera
from gunwatch.config.sections import HealthSettings, ReconnectSettings
from gunwatch.video.frame import Frame
from gunwatch.video.health import HealthChange
from gunwatch.video.sources import camera_source
from support.hostile_images import blank_png
from support.videos import write_video
from support.waiting import wait_until

FAST = HealthSettings(stall_after_s=1.0, reconnect=ReconnectSettings(initial_s=0.05, max_s=0.2))


def brightness(frame: Frame) -> float:
    return float(frame.image.mean())


def test_a_file_plays_at_its_frame_rate_with_rising_timestamps(tmp_path: Path):
    clip = write_video(tmp_path / "clip.mp4", frames=20, size=(320, 240), fps=20.0)
    changes: list[HealthChange] = []
    frames: list[Frame] = []
    with camera_source("door", Camera(url=str(clip)), FAST, changes.append) as source:
        while source.running or source.latest(after=frames[-1].index if frames else -1):
            if frame := source.wait(after=frames[-1].index if frames else -1, timeout=0.2):
                frames.append(frame)
        stats = source.stats()
    # Every decoded frame was either taken or counted as dropped: a busy CPU may let the reader replace one
    # before this loop takes it, and how many that is depends on the machine, not on the code.
    assert stats.frames_in == 20 and len(frames) + stats.dropped == 20 and len(frames) >= 2
    assert all(b.index > a.index for a, b in pairwise(frames)) and frames[-1].index == 19
    assert frames[0].camera == "door" and frames[0].size == (320, 240) and frames[0].image.dtype == np.uint8
    pts = [f.pts for f in frames]
    assert all(b > a for a, b in pairwise(pts))
    assert abs(pts[0] - 0.05 * frames[0].index) < 1e-3
    assert abs((pts[-1] - pts[0]) / (frames[-1].index - frames[0].index) - 0.05) < 1e-3
    wall = frames[-1].received - frames[0].received
    spanned = pts[-1] - pts[0]  # paced: the frames come no faster than their own timestamps
    assert wall > 0.75 * spanned, f"{spanned:.2f} s of the clip came in {wall:.2f} s: not paced"
    assert [(c.state, c.reason) for c in changes] == [
        ("online", "receiving 320x240 frames"),
        ("offline", "end of file"),
    ]


def test_a_slow_consumer_gets_the_newest_frame_and_the_rest_are_dropped(tmp_path: Path):
    clip = write_video(tmp_path / "clip.mp4", frames=20, size=(320, 240), fps=20.0)
    taken: list[Frame] = []
    with camera_source("door", Camera(url=str(clip), loop=True), FAST) as source:
        for _ in range(4):
            frame = source.wait(after=taken[-1].index if taken else -1, timeout=3)
            assert frame is not None
            taken.append(frame)
            time.sleep(0.25)  # a detector slower than the camera
        stats = source.stats()
        newest = source.latest()
    assert all(b.index - a.index >= 3 for a, b in pairwise(taken))  # skipped ahead
    assert newest.index >= stats.frames_in - 1  # and what it gets is the newest frame read, not a backlog
    assert stats.dropped >= 10
    assert stats.frames_in - stats.dropped - len(taken) in (0, 1)  # every frame was taken or dropped


def test_a_looped_file_starts_again_and_its_timestamps_keep_rising(tmp_path: Path):
    clip = write_video(tmp_path / "clip.mp4", frames=5, size=(320, 240), fps=20.0)  # 0.25 s
    frames: list[Frame] = []
    with camera_source("door", Camera(url=str(clip), loop=True), FAST) as source:
        while len(frames) < 14 and (frame := source.wait(after=frames[-1].index if frames else -1, timeout=3)):
            frames.append(frame)
    pts = [f.pts for f in frames]
    assert all(b > a for a, b in pairwise(pts))
    by_index = {f.index: brightness(f) for f in frames}
    repeats = [(i, i + 5) for i in by_index if i + 5 in by_index]
    assert repeats and all(abs(by_index[i] - by_index[j]) < 3 for i, j in repeats)  # the same picture a loop later
    steps = {round(b - a, 3) for a, b in pairwise(pts) if b - a < 0.06}
    assert steps == {0.05}  # also across the loop's seam (frames the consumer missed make bigger steps)


def _write_image(path: Path, value: int, age_s: float = 1.0) -> None:
    Image.fromarray(np.full((48, 64, 3), value, np.uint8)).save(path)
    past = time.time() - age_s  # older than the folder reader's settle time
    os.utime(path, (past, past))


def test_a_folder_plays_its_images_in_name_order_and_picks_up_new_ones(tmp_path: Path):
    folder = tmp_path / "drops"
    folder.mkdir()
    for name, value in [("b.png", 60), ("a.png", 30), ("c.png", 90)]:
        _write_image(folder / name, value)
    (folder / "notes.txt").write_text("not an image")
    camera = Camera(url=str(folder), detect={"fps": 20})
    frames: list[Frame] = []
    changes: list[HealthChange] = []
    with camera_source("drops", camera, FAST, changes.append) as source:
        for _ in range(3):
            frames.append(source.wait(after=frames[-1].index if frames else -1, timeout=3))
        _write_image(folder / "d.png", 120)
        frames.append(source.wait(after=frames[-1].index, timeout=3))
        assert wait_until(lambda: source.state == "stalled", timeout=4)  # no new image for stall_after_s
    assert [round(brightness(f)) for f in frames] == [30, 60, 90, 120]
    assert [f.pts for f in frames] == pytest.approx([0.0, 0.05, 0.1, 0.15])
    assert [c.state for c in changes] == ["online", "stalled"]
    assert changes[-1].reason == "no new image for 1 s"


def test_a_looped_folder_starts_again_and_a_bad_image_is_skipped(tmp_path: Path):
    folder = tmp_path / "loop"
    folder.mkdir()
    _write_image(folder / "1.png", 40)
    _write_image(folder / "2.png", 80)
    (folder / "3.png").write_bytes(b"not a png")
    os.utime(folder / "3.png", (time.time() - 1, time.time() - 1))
    frames: list[Frame] = []
    with camera_source("loop", Camera(url=str(folder), loop=True, detect={"fps": 20}), FAST) as source:
        while len(frames) < 5 and (frame := source.wait(after=frames[-1].index if frames else -1, timeout=3)):
            frames.append(frame)
        errors = source.stats().decode_errors
    # The good images in order, again and again; one the loop did not take in time is dropped (the machine's
    # speed), so each frame is checked against its place in the playing order, which its index gives.
    # Five frames with rising indices from two good images: the folder played again.
    assert len(frames) == 5 and all(b.index > a.index for a, b in pairwise(frames))
    assert [round(brightness(f)) for f in frames] == [(40, 80)[f.index % 2] for f in frames]
    assert errors >= 1


def test_a_folder_skips_an_image_too_large_to_decode_and_stays_online(tmp_path: Path, caplog):
    # An 81 KB PNG of 640 x 130000 decodes to 238 MiB; one of 400 Mpx made Pillow raise and the camera go
    # offline. Both are skipped from their headers: the camera keeps showing the other images.
    folder = tmp_path / "drops"
    folder.mkdir()
    _write_image(folder / "1.png", 40)
    for name, width, height in [("2-strip.png", 640, 130_000), ("3-bomb.png", 20_000, 20_000)]:
        blank_png(folder / name, width, height)
        os.utime(folder / name, (time.time() - 1, time.time() - 1))
    _write_image(folder / "4.png", 80)
    frames: list[Frame] = []
    changes: list[HealthChange] = []
    camera = Camera(url=str(folder), loop=True, detect={"fps": 20})
    with caplog.at_level("WARNING", logger="gunwatch.video.sources.folder"), \
            camera_source("drops", camera, FAST, changes.append) as source:
        while len(frames) < 6 and (frame := source.wait(after=frames[-1].index if frames else -1, timeout=3)):
            frames.append(frame)
        errors = source.stats().decode_errors
    assert [round(brightness(f)) for f in frames] == [40, 80, 40, 80, 40, 80]
    assert all(f.size == (64, 48) for f in frames)
    assert [c.state for c in changes] == ["online"]  # never offline, never an internal error
    assert errors >= 4  # both files, on every pass of the loop
    warned = [r.getMessage() for r in caplog.records]
    assert len(warned) == 2  # once per file, not once per loop
    assert any("2-strip.png: 640x130000 px is larger than gunwatch decodes" in w for w in warned)
    assert any("3-bomb.png" in w for w in warned)


def test_an_unpaced_file_gives_every_frame_in_order_by_its_own_timestamps(tmp_path: Path, monkeypatch):
    from gunwatch.video.sources.failures import RecordingEnded
    from gunwatch.video.sources.file import FileReader
    from gunwatch.video.sources.pacing import Pacer
    from gunwatch.video.sources.reader import ReadContext

    def no_waiting(self, pts):
        raise AssertionError("an unpaced reader must not wait for a frame's time")

    monkeypatch.setattr(Pacer, "wait_for", no_waiting)
    clip = write_video(tmp_path / "clip.mp4", frames=30, size=(160, 120), fps=10.0)
    context = ReadContext(threading.Event(), 5.0, lambda message: None)
    pts = []
    with pytest.raises(RecordingEnded):
        for _, stamp in FileReader(Camera(url=str(clip)), paced=False).frames(context):
            pts.append(stamp)
    assert pts == pytest.approx([index / 10 for index in range(30)])


@pytest.mark.parametrize(("display_ccw", "rotate"), [(-90, 0), (0, 90), (180, 180)])
def test_a_camera_publishes_its_frames_upright(tmp_path: Path, display_ccw: int, rotate: int):
    # A phone's portrait clip (display matrix), a camera mounted on its side (`rotate`), or both undoing each
    # other: whoever reads the frames (detector, zones, snapshots, clips) sees the picture upright.
    from support.turned_photos import picture_with_square, white_box
    from support.videos import write_phone_clip

    upright = picture_with_square(160, 96, (16, 16, 48, 48))
    sideways = np.ascontiguousarray(np.rot90(upright, rotate // 90))  # how the mounted camera films it
    clip = write_phone_clip(tmp_path / "clip.mp4", sideways, display_ccw, frames=4)
    with camera_source("hall", Camera(url=str(clip), rotate=rotate), FAST) as source:
        frame = source.wait(timeout=30)
    assert frame is not None
    assert frame.size == (160, 96)
    assert white_box(frame.image) == [16, 16, 48, 48]
