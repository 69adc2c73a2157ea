"""A local JSON Lines file, and a small HTML page beside it: the demo's sink, readable without any server.

URLs: `file:///abs/alerts.jsonl` (an absolute path) or `file://relative/alerts.jsonl`, which is read as the
relative path `relative/alerts.jsonl` (from the working directory at startup): strictly, `relative` would be
a host name, but a file channel has no hosts, and this is what people write. The same holds for
`file://localhost/x.jsonl` (the relative path `localhost/x.jsonl`); write `file:///x.jsonl` for `/x.jsonl`.

Each message is one line: `message.broadcast_json()` (no action links) plus `"address"`, written, flushed
and fsynced before `send` returns. After each line the page `<stem>.html` is rewritten from the file's last
200 lines, newest first.
"""

from __future__ import annotations

import html
import json
import logging
import os
import tempfile
import threading
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote, unquote, urlsplit

from gunwatch.alerts.channels.base import Channel, DeliveryError
from gunwatch.alerts.message import AlertMessage
from gunwatch.config.channels import FileChannelConfig
from gunwatch.config.redact import redact_url

log = logging.getLogger(__name__)

PAGE_MESSAGES = 200
# The page needs only the last PAGE_MESSAGES lines; reading at most this much of the file's end keeps a
# long-running sink's rewrite cheap.
PAGE_TAIL_BYTES = 4 * 1024 * 1024
PAGE_REFRESH_S = 5

# One lock per file, shared by every channel writing to it (two channels may name the same file).
_locks: dict[Path, threading.Lock] = {}
_locks_guard = threading.Lock()


def _lock_for(path: Path) -> threading.Lock:
    with _locks_guard:
        return _locks.setdefault(path, threading.Lock())


def file_path(url: str) -> Path:
    """The absolute path a file:// URL names (see the module's docstring for relative paths)."""
    parts = urlsplit(url)
    if parts.scheme.lower() != "file":
        raise ValueError(f"{redact_url(url)}: not a file:// URL")
    text = unquote(parts.netloc + parts.path)
    if not text or text.endswith("/"):
        raise ValueError(f"{redact_url(url)}: names no file")
    return Path(text).expanduser().absolute()


def page_path(path: Path) -> Path:
    page = path.with_name(f"{path.stem}.html")
    return page if page != path else path.with_name(f"{path.name}.html")


class FileChannel(Channel):
    """Appends each message to a JSON Lines file and refreshes the HTML page beside it."""

    def __init__(self, name: str, config: FileChannelConfig):
        super().__init__(name, config)
        self.path = file_path(config.url)  # resolved now: a later change of directory must not move the file
        self.page = page_path(self.path)
        self._lock = _lock_for(self.path)

    def reach(self) -> str:
        """Whether the file can be written: its folder (the first one that exists) writable, the file too."""
        folder = next(parent for parent in (self.path.parent, *self.path.parent.parents) if parent.exists())
        if self.path.exists() and not os.access(self.path, os.W_OK):
            raise DeliveryError(f"file channel {self.name!r}: {self.path} is not writable", may_have_arrived=False)
        if not os.access(folder, os.W_OK | os.X_OK):
            raise DeliveryError(f"file channel {self.name!r}: cannot create {self.path}: {folder} is not writable",
                                may_have_arrived=False)
        return f"{self.path} is writable"

    def send(self, message: AlertMessage, address: str | None) -> None:
        # Without links: the file and its page are read by whoever can open them (the page is world-readable).
        line = json.dumps({**message.broadcast_json(), "address": address}, ensure_ascii=False) + "\n"
        with self._lock:
            try:
                self.path.parent.mkdir(parents=True, exist_ok=True)
                with self.path.open("a", encoding="utf-8") as sink:
                    sink.write(line)
                    sink.flush()
                    os.fsync(sink.fileno())
            except OSError as error:
                raise DeliveryError(f"file channel {self.name!r} ({self.path}): {error}", retryable=True) from error
            try:
                write_page(self.path, self.page)
            except OSError as error:
                # The line is written, so the delivery happened; failing now would only duplicate it on retry.
                log.warning("file channel %r: could not update %s: %s", self.name, self.page, error)


def read_tail(path: Path, count: int = PAGE_MESSAGES) -> list[dict[str, Any]]:
    """The last `count` messages of a JSON Lines file, oldest first; lines that are not JSON objects are skipped."""
    with path.open("rb") as source:
        size = source.seek(0, os.SEEK_END)
        start = max(0, size - PAGE_TAIL_BYTES)
        source.seek(start)
        lines = source.read().splitlines()
    if start > 0 and lines:
        lines = lines[1:]  # began mid-line
    messages: list[dict[str, Any]] = []
    for raw in lines[-count:]:
        try:
            data = json.loads(raw)
        except ValueError:
            continue
        if isinstance(data, dict):
            messages.append(data)
    return messages


def write_page(path: Path, page: Path) -> None:
    """Rewrites `page` from `path`, atomically (a browser never sees half a page)."""
    text = render_page(read_tail(path), page.parent, title=path.name)
    handle, temporary = tempfile.mkstemp(dir=page.parent, prefix=f".{page.name}.", suffix=".tmp")
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as out:
            out.write(text)
        os.chmod(temporary, 0o644)  # mkstemp makes it private; the page is meant to be opened and served
        os.replace(temporary, page)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


_STYLE = """
body { font-family: system-ui, sans-serif; margin: 1.5em; background: #f4f4f4; color: #222; }
article { background: #fff; border-left: 6px solid #888; margin: 0 0 1em; padding: 0.6em 1em; }
article.alert, article.escalation { border-color: #c62828; }
article.pre_alert, article.camera_offline, article.disk_low { border-color: #ef6c00; }
article.cancel, article.all_clear { border-color: #2e7d32; }
.kind { font-weight: bold; text-transform: uppercase; font-size: 0.85em; }
.meta { color: #666; font-size: 0.9em; }
pre { white-space: pre-wrap; font: inherit; margin: 0.5em 0; }
img { max-width: 480px; max-height: 360px; display: block; margin-top: 0.5em; }
"""


def render_page(messages: list[dict[str, Any]], folder: Path, title: str) -> str:
    """A self-contained HTML page of `messages`, newest first; snapshots are linked relative to `folder`."""
    articles = "\n".join(_article(data, folder) for data in reversed(messages)) or "<p>No messages yet.</p>"
    name = html.escape(title)
    return (
        '<!doctype html>\n<html><head><meta charset="utf-8">'
        f'<meta http-equiv="refresh" content="{PAGE_REFRESH_S}">'  # the demo's live view
        f"<title>gunwatch: {name}</title><style>{_STYLE}</style></head>\n"
        f'<body><h1>gunwatch messages <span class="meta">({name}, newest first)</span></h1>\n'
        f"{articles}\n</body></html>\n"
    )


def _article(data: dict[str, Any], folder: Path) -> str:
    kind = str(data.get("kind") or "message")
    meta = [
        f"camera {data['camera']}" if data.get("camera") else "",
        f"zone {data['zone']}" if data.get("zone") else "",
        _time_text(data.get("created_at")),
        f"to {data['address']}" if data.get("address") else "",
    ]
    parts = [
        f'<article class="{html.escape(kind)}"><div class="kind">{html.escape(kind.replace("_", " "))}</div>',
        f"<h2>{html.escape(str(data.get('title') or ''))}</h2>",
        f'<div class="meta">{html.escape(" · ".join(text for text in meta if text))}</div>',
        f"<pre>{html.escape(str(data.get('body') or ''))}</pre>",
    ]
    image = _image_source(data, folder)
    if image:
        parts.append(f'<img src="{html.escape(image)}" alt="snapshot">')
    return "\n".join(parts) + "</article>"


def _time_text(value: Any) -> str:
    if not isinstance(value, int | float) or value <= 0:
        return ""
    return datetime.fromtimestamp(value).astimezone().strftime("%Y-%m-%d %H:%M:%S %Z")


def _is_web(url: Any) -> bool:
    # Only http(s): a javascript: link in a message must not become clickable script.
    return isinstance(url, str) and url.lower().startswith(("http://", "https://"))


def _image_source(data: dict[str, Any], folder: Path) -> str | None:
    """The snapshot file relative to the page when it exists (the page then works when the folder is moved
    or served), else the snapshot URL when it is a web address."""
    snapshot = data.get("snapshot")
    if isinstance(snapshot, str) and snapshot:
        path = Path(snapshot).absolute()
        if path.is_file():
            try:
                return quote(os.path.relpath(path, folder).replace(os.sep, "/"))
            except ValueError:  # another drive (Windows): no relative path
                return path.as_uri()
    url = data.get("snapshot_url")
    return url if _is_web(url) else None
