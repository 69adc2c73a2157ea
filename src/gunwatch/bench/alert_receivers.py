"""Local receivers for `gunwatch bench alerts`: they note when each event's first message arrives.

- `HttpReceiver`: a stdlib ThreadingHTTPServer for the webhook (`/hook`, event id from X-Gunwatch-Key, the
  signature checked) and apprise's json:// plugin (`/apprise`, event id from the body's "Event ID." line);
- `SmtpReceiver`: aiosmtpd's threaded Controller (a dev dependency: `smtp_unavailable()` says when it is absent);
- `FileReceiver`: follows the file sink's JSON Lines file;
- the MQTT broker and subscriber are in `alert_broker.py`.

Arrivals are taken before any lock, on the receiver's own thread, as `time.monotonic()` (latency, same process
as the submit) and `time.time()` (to compare with the store's wall-clock times).
"""

from __future__ import annotations

import functools
import importlib.util
import json
import re
import socket
import threading
import time
from dataclasses import dataclass
from email.parser import BytesHeaderParser
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from gunwatch.alerts.channels.webhook import verify_signature

HOST = "127.0.0.1"
HOOK_PATH, APPRISE_PATH = "/hook", "/apprise"
EVENT_LINE = re.compile(r"\bEvent ([0-9a-f]{32})\.")  # texts.body ends with "Event <id>." (apprise carries no key)
FILE_POLL_S = 0.002  # the file sink's arrival is known to within this


def event_of_key(key: str | None) -> str | None:
    """The event id of an idempotency key (`EVENT:PROTOCOL:STEP:KIND:CHANNEL:RECIPIENT`)."""
    return (key.partition(":")[0] or None) if key else None


@dataclass(frozen=True)
class Arrival:
    monotonic: float
    wall: float

    @classmethod
    def now(cls) -> Arrival:
        return cls(time.monotonic(), time.time())


class ArrivalLog:
    """Per channel: each event's first arrival, and how many messages came. Thread-safe."""

    def __init__(self) -> None:
        self._first: dict[str, dict[str, Arrival]] = {}
        self._messages: dict[str, int] = {}
        self._rejected: dict[str, int] = {}
        self._changed = threading.Condition()

    def record(self, channel: str, event_id: str | None, at: Arrival | None = None) -> None:
        at = at or Arrival.now()
        with self._changed:
            self._messages[channel] = self._messages.get(channel, 0) + 1
            if event_id is not None:
                self._first.setdefault(channel, {}).setdefault(event_id, at)
            self._changed.notify_all()

    def reject(self, channel: str) -> None:
        """A message that arrived unusable (a bad signature, no event id): counted, never an arrival."""
        with self._changed:
            self._rejected[channel] = self._rejected.get(channel, 0) + 1

    def first(self, channel: str, event_id: str) -> Arrival | None:
        with self._changed:
            return self._first.get(channel, {}).get(event_id)

    def messages(self, channel: str) -> int:
        with self._changed:
            return self._messages.get(channel, 0)

    def rejected(self, channel: str) -> int:
        with self._changed:
            return self._rejected.get(channel, 0)

    def wait_for(self, channels: list[str], event_ids: list[str], timeout: float) -> bool:
        """Until every channel has every event, up to `timeout` seconds; True when it came to that."""
        def complete() -> bool:
            return all(event in self._first.get(channel, {}) for channel in channels for event in event_ids)

        with self._changed:
            return self._changed.wait_for(complete, timeout)


class HttpReceiver:
    """Webhook and apprise json:// on one port; every request is answered 200 at once (401: bad signature)."""

    def __init__(self, log: ArrivalLog, secret: str, webhook: str = "webhook", apprise: str = "apprise") -> None:
        self.log, self.secret = log, secret
        self.channels = {HOOK_PATH: webhook, APPRISE_PATH: apprise}
        self._server: ThreadingHTTPServer | None = None

    @property
    def port(self) -> int:
        assert self._server is not None, "not started"
        return int(self._server.server_address[1])

    def url(self, path: str, scheme: str = "http") -> str:
        return f"{scheme}://{HOST}:{self.port}{path}"

    def start(self) -> HttpReceiver:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                receiver._serve(self)

            def log_message(self, format: str, *args: Any) -> None:  # the bench's output is the table
                pass

        self._server = ThreadingHTTPServer((HOST, 0), Handler)
        self._server.daemon_threads = True
        # A short poll interval: shutdown() waits for the loop to notice (0.5 s by default).
        serve = functools.partial(self._server.serve_forever, poll_interval=0.05)
        threading.Thread(target=serve, name="bench-http-receiver", daemon=True).start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def _serve(self, handler: BaseHTTPRequestHandler) -> None:
        body = handler.rfile.read(int(handler.headers.get("Content-Length") or 0))
        at = Arrival.now()  # the whole request is in
        channel = self.channels.get(handler.path.partition("?")[0])
        status = 404 if channel is None else self._record(channel, handler, body, at)
        handler.send_response(status)
        handler.send_header("Content-Length", "0")
        handler.end_headers()

    def _record(self, channel: str, handler: BaseHTTPRequestHandler, body: bytes, at: Arrival) -> int:
        if channel == self.channels[HOOK_PATH]:
            if not verify_signature(self.secret, handler.command, handler.path, dict(handler.headers.items()), body):
                self.log.reject(channel)
                return 401
            event_id = event_of_key(handler.headers.get("X-Gunwatch-Key"))
        else:
            match = EVENT_LINE.search(_json_message(body))
            event_id = match.group(1) if match else None
        if event_id is None:
            self.log.reject(channel)
        else:
            self.log.record(channel, event_id, at)
        return 200


def _json_message(body: bytes) -> str:
    try:
        data = json.loads(body)
    except ValueError:
        return ""
    return str(data.get("message", "")) if isinstance(data, dict) else ""


def smtp_unavailable() -> str | None:
    """Why there is no local SMTP server (aiosmtpd is a dev dependency), or None."""
    if importlib.util.find_spec("aiosmtpd") is None:
        return "aiosmtpd is not installed (pip install -e '.[dev]')"
    return None


class SmtpReceiver:
    """An SMTP server on loopback (no AUTH, no TLS) that takes every message; the event id from X-Gunwatch-Key."""

    def __init__(self, log: ArrivalLog, channel: str = "email") -> None:
        self.log, self.channel = log, channel
        self._controller: Any = None
        self.port = 0

    @property
    def url(self) -> str:
        return f"smtp://{HOST}:{self.port}"

    def start(self) -> SmtpReceiver:
        from aiosmtpd.controller import Controller  # a dev dependency: imported only when used

        receiver = self

        class Handler:
            async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
                at = Arrival.now()  # the message is in (its final dot received)
                headers = BytesHeaderParser().parsebytes(envelope.original_content or b"")
                event_id = event_of_key(headers.get("X-Gunwatch-Key"))
                if event_id is None:
                    receiver.log.reject(receiver.channel)
                else:
                    receiver.log.record(receiver.channel, event_id, at)
                return "250 2.0.0 accepted"

        # Port 0 is not possible here: the Controller checks readiness by connecting to the port it was given.
        self.port = free_port()
        self._controller = Controller(Handler(), hostname=HOST, port=self.port, ready_timeout=10.0)
        self._controller.start()
        return self

    def stop(self) -> None:
        if self._controller is not None:
            self._controller.stop()
            self._controller = None


class FileReceiver:
    """Follows the file sink's JSON Lines file: a line's arrival is when the poll first sees it complete."""

    def __init__(self, log: ArrivalLog, path: Path, channel: str = "file") -> None:
        self.log, self.path, self.channel = log, path, channel
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._follow, name="bench-file-receiver", daemon=True)

    @property
    def url(self) -> str:
        return self.path.absolute().as_uri()

    def start(self) -> FileReceiver:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(5)

    def _follow(self) -> None:
        offset, partial = 0, b""
        while not self._stop.wait(FILE_POLL_S):
            try:
                with self.path.open("rb") as source:
                    source.seek(offset)
                    chunk = source.read()
            except FileNotFoundError:
                continue  # the sink creates it with the first message
            if not chunk:
                continue
            at = Arrival.now()
            offset += len(chunk)
            *lines, partial = (partial + chunk).split(b"\n")  # the last piece is a line still being written
            for line in lines:
                self._line(line, at)

    def _line(self, line: bytes, at: Arrival) -> None:
        try:
            event_id = json.loads(line).get("event_id")
        except (ValueError, AttributeError):
            event_id = None
        if event_id is None:
            self.log.reject(self.channel)
        else:
            self.log.record(self.channel, str(event_id), at)


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((HOST, 0))
        return int(probe.getsockname()[1])
