"""Event clips: pre-roll from the ring, post-roll after the event opened, encoded without blocking the camera."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import av
import numpy as np
import pytest

from gunwatch.events.clips import Clip, ClipRecorder, clip_rate
from gunwatch.events.model import ThreatEvent
from gunwatch.video.frame import Frame

T0 = 1_700_000_000.0
FPS = 8  # frame times in eighths of a second are exact in binary, so window edges are not left to rounding


def frame(i: int, width: int = 160, height: int = 120) -> Frame:
    image = np.full((height, width, 3), 4 * i % 256, np.uint8)  # frame i has brightness 4 i
    return Frame("lobby", image, i, i / FPS, T0 + i / FPS)


def event_at(i: int) -> ThreatEvent:
    t = T0 + i / FPS
    return ThreatEvent("lobby", "open", t - 1, t, t, 0.9, (10, 10, 50, 50))


def wait_for(recorder: ClipRecorder, count: int = 1, timeout: float = 60.0) -> list[Clip]:
    clips: list[Clip] = []
    deadline = time.monotonic() + timeout
    while len(clips) < count and time.monotonic() < deadline:
        clips += recorder.poll(now=0.0)  # now=0: no recording counts as silent
        time.sleep(0.02)
    assert len(clips) == count, f"{len(clips)} of {count} clips after {timeout} s"
    return clips


def decoded(path: Path) -> tuple[list[np.ndarray], float]:
    """The clip's frames and its duration in seconds."""
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        images = [f.to_ndarray(format="rgb24") for f in container.decode(stream)]
        return images, float(stream.duration * stream.time_base)


def record(recorder: ClipRecorder, opened: int, last: int, **sizes: int) -> ThreatEvent:
    """Push frames 0..last, opening an event right after frame `opened` was pushed."""
    threat = event_at(opened)
    for i in range(last + 1):
        recorder.push(frame(i, **sizes))
        if i == opened:
            recorder.start(threat)
    return threat


def test_a_clip_holds_the_pre_roll_and_the_post_roll(tmp_path: Path) -> None:
    recorder = ClipRecorder(tmp_path, pre_roll_s=2.0, post_roll_s=2.0)
    threat = record(recorder, opened=40, last=70)
    (clip,) = wait_for(recorder)
    # Frames 24..40 (2 s before, both ends) and 41..56 (2 s after): 33 frames at 8 fps.
    assert clip.error is None and clip.frames == 33 and clip.fps == pytest.approx(8.0)
    assert clip.path is not None and clip.event == threat and threat.evidence.clip is None  # the event is a value
    assert clip.path.name.endswith(f"{threat.id[:8]}.mp4") and clip.path.parent == tmp_path / "lobby"
    images, duration = decoded(clip.path)
    assert len(images) == 33
    assert duration == pytest.approx(33 / FPS, abs=0.15)
    brightness = [round(float(image.mean()) / 4) for image in images]
    assert brightness[0] == 24 and brightness[-1] == 56  # starts at the pre-roll, ends at the post-roll
    assert not recorder.busy and recorder.close() == []
    assert not list(tmp_path.rglob("*.part.mp4"))


def test_frames_of_different_sizes_become_one_size(tmp_path: Path) -> None:
    recorder = ClipRecorder(tmp_path, pre_roll_s=1.0, post_roll_s=1.0)
    threat = event_at(8)
    sizes = [(160, 120)] * 5 + [(200, 150)] * 9 + [(1280, 720)] * 3  # the 720p frames are shrunk to 640x360
    for i, (width, height) in enumerate(sizes):
        recorder.push(frame(i, width, height))
        if i == 8:
            recorder.start(threat)
    (clip,) = wait_for(recorder)
    images, _ = decoded(clip.path)
    assert clip.frames == len(images) == 9 + 8
    assert {image.shape for image in images} == {(150, 200, 3)}  # the size most of the clip's frames have


def test_recording_does_not_wait_for_the_encoder(tmp_path: Path) -> None:
    release = threading.Event()
    executor = ThreadPoolExecutor(max_workers=1)
    held = executor.submit(release.wait, 600)  # the writer thread is held until the test lets it go
    recorder = ClipRecorder(tmp_path, pre_roll_s=5.0, post_roll_s=5.0, executor=executor)
    threat = event_at(40)
    for i in range(81):  # frame 80 ends the post-roll and hands 81 frames of 640x360 to the writer
        recorder.push(frame(i, 1280, 720))
        if i == 40:
            recorder.start(threat)
    # Every push returned while the only writer thread was still held: none of them waited for the encoder.
    assert not held.done()
    assert recorder.busy and recorder.poll(now=0.0) == [] and threat.evidence.clip is None
    release.set()
    (clip,) = wait_for(recorder)
    assert clip.frames == 81 and clip.path is not None and clip.path.is_file()
    executor.shutdown()


def test_a_camera_gone_silent_still_gets_its_clip(tmp_path: Path) -> None:
    recorder = ClipRecorder(tmp_path, pre_roll_s=1.0, post_roll_s=5.0, silence_s=2.0)
    threat = record(recorder, opened=16, last=20)
    assert recorder.poll(now=threat.confirmed_at + 6.9) == []  # post-roll + silence not yet over
    recorder.poll(now=threat.confirmed_at + 7.0)
    (clip,) = wait_for(recorder)
    assert clip.frames == 9 + 4 and clip.path is not None


def test_no_post_roll_writes_at_once_and_a_second_start_is_ignored(tmp_path: Path) -> None:
    recorder = ClipRecorder(tmp_path, pre_roll_s=1.0, post_roll_s=0.0)
    threat = event_at(10)
    for i in range(11):
        recorder.push(frame(i))
    recorder.start(threat)
    recorder.start(threat)
    (clip,) = wait_for(recorder)
    assert clip.frames == 9


def test_close_writes_what_is_being_recorded(tmp_path: Path) -> None:
    recorder = ClipRecorder(tmp_path, pre_roll_s=1.0, post_roll_s=60.0)
    threat = record(recorder, opened=8, last=12)
    (clip,) = recorder.close()
    assert clip.frames == 13 and clip.event == threat and clip.path is not None and clip.path.is_file()


def test_a_failed_write_is_reported_not_raised(tmp_path: Path) -> None:
    blocked = tmp_path / "file"
    blocked.write_text("a file where the evidence folder should be")
    recorder = ClipRecorder(blocked, pre_roll_s=1.0, post_roll_s=0.0)
    threat = record(recorder, opened=8, last=8)
    (clip,) = wait_for(recorder)
    assert clip.path is None and clip.error and threat.evidence.clip is None


def test_an_event_without_frames_reports_it(tmp_path: Path) -> None:
    recorder = ClipRecorder(tmp_path, pre_roll_s=1.0, post_roll_s=1.0)
    threat = event_at(0)
    recorder.start(threat)
    (clip,) = recorder.close()
    assert clip.path is None and clip.error == "no frames arrived for the clip"


def test_the_rate_comes_from_the_arrival_times() -> None:
    frames = [Frame("lobby", np.zeros((2, 2, 3), np.uint8), i, None, T0 + i * 0.25) for i in range(9)]
    assert clip_rate(frames) == pytest.approx(4.0)
    assert clip_rate(frames[:1]) == 5.0
