"""Frame sources for `gunwatch detect`: images, folders, videos, and clear errors for everything else."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from gunwatch.video.files import SourceError, iter_frames, video_rate
from support.videos import write_video


def test_an_image_is_one_frame(tmp_path: Path) -> None:
    Image.fromarray(np.zeros((30, 40, 3), np.uint8)).save(tmp_path / "a.png")
    (frame,) = iter_frames(tmp_path / "a.png")
    assert frame.index == 0 and frame.image.shape == (30, 40, 3) and frame.source == tmp_path / "a.png"


def test_a_folder_gives_its_images_in_name_order(tmp_path: Path) -> None:
    for name in ("b.jpg", "a.png", "c.txt"):
        if name.endswith("txt"):
            (tmp_path / name).write_text("not an image")
        else:
            Image.fromarray(np.zeros((8, 8, 3), np.uint8)).save(tmp_path / name)
    assert [f.source.name for f in iter_frames(tmp_path)] == ["a.png", "b.jpg"]


def test_a_folder_gives_its_images_and_videos_in_path_order(tmp_path: Path) -> None:
    Image.fromarray(np.zeros((8, 8, 3), np.uint8)).save(tmp_path / "b.jpg")
    (tmp_path / "a").mkdir()
    write_video(tmp_path / "a" / "clip.mp4", frames=3)
    write_video(tmp_path / "c.MOV", frames=4)  # a phone's clip: suffix in capitals
    (tmp_path / "notes.txt").write_text("camera 3, night")
    heard: list[tuple[str, Path | None]] = []
    frames = list(iter_frames(tmp_path, every=2, on_skipped=lambda why, file: heard.append((why, file))))
    assert [(f.source.relative_to(tmp_path).as_posix(), f.index) for f in frames] == [
        ("a/clip.mp4", 0), ("a/clip.mp4", 2), ("b.jpg", 0), ("c.MOV", 0), ("c.MOV", 2)]
    assert heard == [(f"{tmp_path}: 1 file(s) that are neither images nor videos left out (.txt 1)", None)]


def test_a_folders_unreadable_video_is_reported_and_the_rest_goes_on(tmp_path: Path) -> None:
    (tmp_path / "a.mp4").write_text("not a video")  # broken in transfer
    Image.fromarray(np.zeros((8, 8, 3), np.uint8)).save(tmp_path / "b.jpg")
    heard: list[tuple[str, Path | None]] = []
    frames = list(iter_frames(tmp_path, on_skipped=lambda why, file: heard.append((why, file))))
    assert [f.source.name for f in frames] == ["b.jpg"]
    ((why, file),) = heard
    assert file == tmp_path / "a.mp4" and why.startswith(f"{tmp_path / 'a.mp4'}: not a readable video")
    with pytest.raises(SourceError, match=r"a\.mp4: not a readable video"):  # no listener: the run ends, naming it
        list(iter_frames(tmp_path))


def test_a_video_gives_every_nth_frame_with_times(tmp_path: Path) -> None:
    video = write_video(tmp_path / "clip.mp4", frames=12, fps=10.0)
    frames = list(iter_frames(video, every=3))
    assert [f.index for f in frames] == [0, 3, 6, 9]
    assert frames[0].image.shape == (120, 160, 3)
    assert frames[1].time_s == pytest.approx(0.3, abs=0.01)
    assert video_rate(video) == pytest.approx(10.0)


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("missing.jpg", None, "no such file or folder"),
        ("notes.txt", "hello", "not an image"),
        ("broken.jpg", "not a jpeg", "image does not decode"),
        ("broken.mp4", "not a video", "not a readable video"),
    ],
)
def test_bad_sources_name_the_file(tmp_path: Path, name: str, content: str | None, message: str) -> None:
    path = tmp_path / name
    if content is not None:
        path.write_text(content)
    with pytest.raises(SourceError, match=message) as error:
        list(iter_frames(path))
    assert str(path) in str(error.value)


def test_an_empty_folder_is_an_error(tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("nothing to look at")
    with pytest.raises(SourceError, match=r"holds no images \(.*\) or videos \(.*\.mp4"):
        list(iter_frames(tmp_path))


def test_a_truncated_video_yields_what_it_has_then_says_where_it_broke(tmp_path: Path) -> None:
    video = write_video(tmp_path / "clip.mp4", frames=30)
    data = video.read_bytes()
    (tmp_path / "cut.mp4").write_bytes(data[: len(data) // 2])
    frames = []
    try:
        for frame in iter_frames(tmp_path / "cut.mp4"):
            frames.append(frame)
    except SourceError as error:
        assert "cut.mp4" in str(error)
    assert len(frames) < 30
