"""A clip is not started on a disk that cannot hold it: FFmpeg is never handed a full disk."""

from __future__ import annotations

import errno
import shutil
from pathlib import Path

import numpy as np
import pytest

from gunwatch.events import clips
from gunwatch.video.frame import Frame


def test_a_disk_that_cannot_hold_the_clip_is_refused_before_ffmpeg_writes(tmp_path: Path,
                                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    frames = [Frame("lobby", np.zeros((120, 160, 3), np.uint8), i, None, 100.0 + i / 10) for i in range(10)]
    usage = shutil.disk_usage(tmp_path)
    monkeypatch.setattr(clips.shutil, "disk_usage", lambda _: usage._replace(free=64 * 1024))
    with pytest.raises(OSError) as raised:
        clips.write_clip(frames, tmp_path / "lobby" / "clip.mp4")
    assert raised.value.errno == errno.ENOSPC and "64 KiB free" in str(raised.value)
    assert list((tmp_path / "lobby").iterdir()) == []  # nothing started: no .part for FFmpeg to fail on


def test_with_room_the_clip_is_written(tmp_path: Path) -> None:
    frames = [Frame("lobby", np.zeros((120, 160, 3), np.uint8), i, None, 100.0 + i / 10) for i in range(10)]
    assert clips.write_clip(frames, tmp_path / "clip.mp4") > 0 and (tmp_path / "clip.mp4").stat().st_size > 0
