"""A real HTTP server on loopback that records what it receives: the far end of webhook and apprise tests.

    def test_x(http_receiver):           # a module imports `http_receiver_fixture` to use it
        send_to(http_receiver.url("/hook"))
        [request] = http_receiver.wait_for(1)
        assert request.json["kind"] == "alert"

Modes: `ok` answers 200, `fail` answers 500 (or the status given), `hang` holds each request unanswered
until `release()` (then 200) or `stop()` (then the connection drops). `stop()` then `start()` brings it back
on the same port, as a receiver that went down and came back. `set_delay(s)` makes a slow receiver: each
request is recorded at once and answered `s` seconds later.
"""

from __future__ import annotations

import contextlib
import functools
import json
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Literal

import pytest

from support.waiting import MIN_TIMEOUT_S

Mode = Literal["ok", "fail", "hang"]


@dataclass(frozen=True)
class ReceivedRequest:
    method: str
    path: str  # as sent, query string included
    headers: dict[str, str]  # names lower-cased
    body: bytes
    json: Any = None  # the parsed body when it was JSON


class HttpReceiver:
    def __init__(self) -> None:
        self.port = 0  # chosen by the first start, kept by later ones
        self._lock = threading.Lock()
        self._requests: list[ReceivedRequest] = []
        self._mode: Mode = "ok"
        self._fail_status = 500
        self._delay_s = 0.0
        self._release = threading.Event()
        self._generation = 0  # bumped by stop(): requests held from before must not be answered
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    def url(self, path: str = "/hook") -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def start(self) -> HttpReceiver:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def _serve(self) -> None:
                receiver._serve(self)

            do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _serve

            def log_message(self, format: str, *args: Any) -> None:  # keep test output quiet
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)  # reuses the address: same port
        self.port = self._server.server_address[1]
        # A short poll interval: shutdown() waits for the loop to notice, 0.5 s per stop by default.
        serve = functools.partial(self._server.serve_forever, poll_interval=0.02)
        self._thread = threading.Thread(target=serve, name="http-receiver", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        """Close the port and drop held requests unanswered; recorded requests are kept."""
        if self._server is None:
            return
        with self._lock:
            self._generation += 1
        self.release()
        self._server.shutdown()
        self._server.server_close()
        assert self._thread is not None
        self._thread.join(timeout=5)
        self._server = self._thread = None

    def set_mode(self, mode: Mode, status: int = 500) -> None:
        """How later requests are answered; `status` is the answer in `fail` mode."""
        with self._lock:
            self._mode, self._fail_status = mode, status

    def set_delay(self, seconds: float) -> None:
        """Answer later requests (in `ok` and `fail` mode) only after `seconds`; 0 answers at once."""
        with self._lock:
            self._delay_s = seconds

    def release(self) -> None:
        """Answer the requests held so far (200); in `hang` mode later ones are held again."""
        with self._lock:
            held, self._release = self._release, threading.Event()
        held.set()

    @property
    def requests(self) -> list[ReceivedRequest]:
        with self._lock:
            return list(self._requests)

    def wait_for(self, count: int, timeout: float = 5.0) -> list[ReceivedRequest]:
        """The requests once at least `count` have arrived; AssertionError after `timeout` seconds (at least
        MIN_TIMEOUT_S: see support.waiting)."""
        timeout = max(timeout, MIN_TIMEOUT_S)
        deadline = time.monotonic() + timeout
        while len(received := self.requests) < count:
            if time.monotonic() > deadline:
                raise AssertionError(f"expected {count} requests within {timeout} s, got {len(received)}")
            time.sleep(0.01)
        return received

    def _serve(self, handler: BaseHTTPRequestHandler) -> None:
        # Content-Length only: httpx and requests (apprise) both send it for the bodies used here.
        body = handler.rfile.read(int(handler.headers.get("Content-Length") or 0))
        headers = {name.lower(): value for name, value in handler.headers.items()}
        parsed = None
        if "json" in headers.get("content-type", ""):
            with contextlib.suppress(ValueError):  # not JSON after all: recorded as sent, json=None
                parsed = json.loads(body)
        with self._lock:
            self._requests.append(ReceivedRequest(handler.command, handler.path, headers, body, parsed))
            mode, status, release, generation = self._mode, self._fail_status, self._release, self._generation
            delay = self._delay_s
        if mode == "hang":
            release.wait()
            with self._lock:
                if generation != self._generation:
                    return  # stopped: the connection closes without an answer
            status = 200
        else:
            if delay > 0:
                time.sleep(delay)
            if mode == "ok":
                status = 200
        answer = json.dumps({"status": status}).encode()
        try:
            handler.send_response(status)
            handler.send_header("Content-Type", "application/json")
            handler.send_header("Content-Length", str(len(answer)))
            handler.end_headers()
            handler.wfile.write(answer)
        except OSError:
            pass  # the client gave up waiting (a timeout test): nobody to answer


@pytest.fixture(name="http_receiver")
def http_receiver_fixture() -> Iterator[HttpReceiver]:
    """`http_receiver`: a started HttpReceiver in `ok` mode, stopped at teardown."""
    receiver = HttpReceiver().start()
    try:
        yield receiver
    finally:
        receiver.stop()
