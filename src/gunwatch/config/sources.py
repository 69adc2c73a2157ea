"""Which kind of source a camera URL names. The scheme or the path decides; errors list what is accepted."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Literal
from urllib.parse import urlsplit

SourceKind = Literal["rtsp", "mjpeg", "hls", "rtmp", "file", "folder", "device"]

ACCEPTED_SOURCES = (
    "rtsp:// or rtsps://, http(s):// (an MJPEG stream, or HLS when the path ends in .m3u8), rtmp:// or rtmps://, "
    "a video file, a folder of images, or /dev/videoN"
)

STREAM_SCHEMES: dict[str, SourceKind] = {
    "rtsp": "rtsp",
    "rtsps": "rtsp",
    "http": "mjpeg",
    "https": "mjpeg",
    "rtmp": "rtmp",
    "rtmps": "rtmp",
}
LOCAL_KINDS: frozenset[SourceKind] = frozenset({"file", "folder", "device"})

_SCHEME = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]*)://")
_DEVICE = re.compile(r"^/dev/video\d+$")


def source_kind(url: str) -> SourceKind:
    """The kind of source `url` names, or ValueError. Messages never quote the URL: it may hold a password."""
    if not url.strip():
        raise ValueError(f"is empty; accepted: {ACCEPTED_SOURCES}")
    scheme = _SCHEME.match(url)
    if scheme:
        return _stream_kind(scheme.group(1).lower(), url)
    if "://" in url:
        raise ValueError(f"is neither a URL nor a path; accepted: {ACCEPTED_SOURCES}")
    if url.startswith("/dev/"):
        if _DEVICE.match(url):
            return "device"
        raise ValueError("a camera device must be /dev/videoN (Video4Linux)")
    return _path_kind(url)


def _stream_kind(scheme: str, url: str) -> SourceKind:
    kind = STREAM_SCHEMES.get(scheme)
    if kind is None:
        raise ValueError(f"unsupported scheme {scheme}://; accepted: {ACCEPTED_SOURCES}")
    parts = urlsplit(url)
    if not parts.hostname:
        raise ValueError(f"the {scheme}:// URL has no host")
    try:
        parts.port  # noqa: B018 - parsing the port is the check
    except ValueError:
        raise ValueError(
            "the port is not a number from 0 to 65535 (percent-encode ':', '@' and '/' in a user name or password)"
        ) from None
    if kind == "mjpeg" and parts.path.lower().endswith(".m3u8"):
        return "hls"
    return kind


def _path_kind(url: str) -> SourceKind:
    # A path without an extension is taken as a folder even before it exists (a camera that drops JPEGs there).
    path = Path(url)
    return "folder" if url.endswith("/") or path.is_dir() or not path.suffix else "file"
