"""The kind of source a camera URL names, and the message that lists what is accepted."""

from __future__ import annotations

from pathlib import Path

import pytest

from gunwatch.config.sources import ACCEPTED_SOURCES, source_kind


@pytest.mark.parametrize(
    ("url", "kind"),
    [
        ("rtsp://admin:pw@10.0.0.5:554/Streaming/Channels/101", "rtsp"),
        ("RTSPS://cam.local/stream", "rtsp"),
        ("http://10.0.0.6/mjpg/video.mjpg", "mjpeg"),
        ("https://cam.local/cgi-bin/mjpeg?resolution=720p", "mjpeg"),
        ("https://example.com/live/index.m3u8", "hls"),
        ("http://example.com/live/INDEX.M3U8?token=1", "hls"),
        ("rtmp://10.0.0.7/live/cam", "rtmp"),
        ("rtmps://10.0.0.7/live/cam", "rtmp"),
        ("rtsp://[fe80::1]:554/s", "rtsp"),
        ("/dev/video0", "device"),
        ("/dev/video12", "device"),
        ("videos/lobby.mp4", "file"),
        ("/srv/recordings/2024-01-01.mkv", "file"),
        ("snapshots/door/", "folder"),
        ("snapshots/door", "folder"),  # no extension: a folder, even before it exists
    ],
)
def test_source_kind(url: str, kind: str) -> None:
    assert source_kind(url) == kind


def test_an_existing_folder_with_a_dot_in_its_name_is_a_folder(tmp_path: Path) -> None:
    folder = tmp_path / "frames.v2"
    folder.mkdir()
    assert source_kind(str(folder)) == "folder"


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("ftp://host/clip.mp4", f"unsupported scheme ftp://; accepted: {ACCEPTED_SOURCES}"),
        ("file:///videos/a.mp4", f"unsupported scheme file://; accepted: {ACCEPTED_SOURCES}"),
        ("", f"is empty; accepted: {ACCEPTED_SOURCES}"),
        ("rt sp://host/s", f"is neither a URL nor a path; accepted: {ACCEPTED_SOURCES}"),
        ("rtsp:///stream", "the rtsp:// URL has no host"),
        ("/dev/sda", "a camera device must be /dev/videoN (Video4Linux)"),
        ("rtsp://host:port/s", "the port is not a number from 0 to 65535"),
    ],
)
def test_rejected_sources_say_why(url: str, message: str) -> None:
    with pytest.raises(ValueError) as caught:
        source_kind(url)
    assert str(caught.value).startswith(message)


def test_the_message_never_quotes_the_url() -> None:
    with pytest.raises(ValueError) as caught:
        source_kind("rtsp://admin:hunter2@cam:99999999/s")
    assert "hunter2" not in str(caught.value)
