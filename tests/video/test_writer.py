"""The MP4 writer: frames in, a playable file out; on a full disk an OSError, never a crash of the process."""

from __future__ import annotations

import sys
from pathlib import Path

import av
import numpy as np
import pytest
from tests.support.private_tmpfs import run_private, skip_without_private_mounts

from gunwatch.video.writer import VideoWriter

# Three threads write clips into a 3 MiB tmpfs until it is full and go on trying. With FFmpeg opening the file
# itself, the failed write was followed by a SIGSEGV in closing the container, every run (PyAV 18.1).
FILL_WITH_CLIPS = """
import sys, threading
import numpy as np
from pathlib import Path
from gunwatch.video.writer import VideoWriter
folder = Path(sys.argv[1])
frames = [np.random.default_rng(i).integers(0, 255, (360, 640, 3), np.uint8) for i in range(20)]
failures = []
def write(thread):
    for clip in range(12):
        try:
            with VideoWriter(folder / f"{thread}-{clip}.mp4", 5, options={"preset": "veryfast"}, threads=1) as out:
                for frame in frames:
                    out.write(frame)
        except OSError as error:
            failures.append(error.errno)
threads = [threading.Thread(target=write, args=(n,)) for n in range(3)]
for t in threads: t.start()
for t in threads: t.join()
print("ENOSPC", failures.count(28), "other", len(failures) - failures.count(28))
"""
FULL_DISK = 'mount -t tmpfs -o size=3m,mode=0700 tmpfs "$1" || exit 97; exec "$2" -c "$3" "$1"'


def test_frames_come_back_from_the_file(tmp_path: Path) -> None:
    path = tmp_path / "clip.mp4"
    frames = [np.full((64, 96, 3), 40 * index, np.uint8) for index in range(5)]
    with VideoWriter(path, 5) as writer:
        for frame in frames:
            writer.write(frame)
    with av.open(str(path)) as container:
        decoded = [frame.to_ndarray(format="rgb24") for frame in container.decode(video=0)]
    assert len(decoded) == 5 and decoded[0].shape == (64, 96, 3)
    assert [int(np.median(image)) for image in decoded] == pytest.approx([0, 40, 80, 120, 160], abs=3)


def test_an_unknown_suffix_is_refused_before_anything_is_written(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=r"clip\.xyz"):
        VideoWriter(tmp_path / "clip.xyz", 5)


def test_a_full_disk_is_an_oserror_and_the_process_lives(tmp_path: Path) -> None:
    skip_without_private_mounts()
    folder = tmp_path / "evidence"
    folder.mkdir()
    run = run_private(FULL_DISK, str(folder), sys.executable, FILL_WITH_CLIPS, timeout=600)
    assert run.returncode == 0, f"exit {run.returncode}: {run.stderr[-3000:]}"  # -11 / 139 was the crash
    counts = run.stdout.split()
    assert counts[0] == "ENOSPC" and int(counts[1]) > 0, run.stdout  # the disk did fill up
    assert counts[2:] == ["other", "0"], run.stdout
