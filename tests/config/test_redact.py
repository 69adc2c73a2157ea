"""Passwords never reach output: `redact_url` hides them, in every form a camera or database URL takes."""

from __future__ import annotations

import pytest

from gunwatch.config import redact_url


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("rtsp://admin:secret@10.0.0.5:554/stream1", "rtsp://admin:***@10.0.0.5:554/stream1"),
        ("rtsps://admin:secret@cam.local/s", "rtsps://admin:***@cam.local/s"),
        ("postgresql://gunwatch:secret@db:5432/gunwatch", "postgresql://gunwatch:***@db:5432/gunwatch"),
        ("postgresql+psycopg://u:secret@db/g", "postgresql+psycopg://u:***@db/g"),
        ("http://u:secret@cam/video.mjpg?x=1", "http://u:***@cam/video.mjpg?x=1"),
        ("rtsp://admin:@cam/s", "rtsp://admin:***@cam/s"),
        # Unencoded '@' or '/' in the password: invalid URLs, yet the password stays hidden.
        ("rtsp://admin:p@ss@cam/s", "rtsp://admin:***@cam/s"),
        ("rtsp://admin:12/34@cam/s", "rtsp://admin:***@cam/s"),
        # Secrets in the query string (snapshot CGIs, signed stream links).
        ("http://cam/snap.cgi?user=admin&password=secret&ch=1", "http://cam/snap.cgi?user=admin&password=***&ch=1"),
        ("https://cdn/live.m3u8?token=abc", "https://cdn/live.m3u8?token=***"),
        ("https://cdn/live.m3u8?PWD=abc#t", "https://cdn/live.m3u8?PWD=***#t"),
        # Nothing to hide.
        ("rtsp://10.0.0.5:554/stream1", "rtsp://10.0.0.5:554/stream1"),
        ("rtsp://admin@cam/s", "rtsp://admin@cam/s"),
        ("http://cam/image@2x.jpg", "http://cam/image@2x.jpg"),
        ("sqlite:///runs/gunwatch.db", "sqlite:///runs/gunwatch.db"),
        ("videos/user:pw@clip.mp4", "videos/user:pw@clip.mp4"),  # a path, not a URL
        ("/dev/video0", "/dev/video0"),
    ],
)
def test_redact_url(url: str, shown: str) -> None:
    assert redact_url(url) == shown


def test_endpoint_only_hides_the_path_that_is_an_incoming_webhook_s_secret() -> None:
    from gunwatch.config.redact import endpoint_only

    assert endpoint_only("https://hooks.slack.com/services/T0/B0/SECRET") == "https://hooks.slack.com/…"
    assert endpoint_only("https://user:pw@hooks.example.org/x?token=1") == "https://user:***@hooks.example.org/…"
    assert endpoint_only("http://127.0.0.1:9000") == "http://127.0.0.1:9000"
    assert endpoint_only("relative/path") == "relative/path"
