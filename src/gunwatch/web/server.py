"""Serve the link endpoint from a background thread of the running process (uvicorn, one event loop).

The socket is bound here, before uvicorn starts: a taken port is a clear error from `start()`, not a
SystemExit dying quietly inside the server's thread, and port 0 picks a free port (tests). With `tls` (the
site file's `alerts.links.tls`) it serves HTTPS only: every URL it answers carries a credential.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
from typing import Any

import uvicorn

from gunwatch.config.alerts import LinkTls, parse_host_port

log = logging.getLogger(__name__)

START_TIMEOUT_S = 10.0
STOP_TIMEOUT_S = 10.0


class LinkServerError(RuntimeError):
    """The endpoint cannot listen (port taken, unknown host) or did not start."""


def parse_listen(listen: str) -> tuple[str, int]:
    """`127.0.0.1:8780`, `0.0.0.0:8780`, `gunwatch.local:8780` or `[::1]:8780` -> (host, port)."""
    return parse_host_port(listen)


class LinkServer:
    """`LinkServer(app, "127.0.0.1", 8780).start()` ... `.stop()`; also a context manager. After `start()`,
    `port` is the port actually bound (the one asked for, or the free one picked for port 0)."""

    def __init__(self, app: Any, host: str, port: int, tls: LinkTls | None = None):
        self.app, self.host, self.port, self.tls = app, host, port, tls
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None
        self._error: BaseException | None = None

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{'https' if self.tls else 'http'}://{host}:{self.port}"

    def start(self, timeout_s: float = START_TIMEOUT_S) -> LinkServer:
        if self._thread is not None:
            raise RuntimeError("the link server was already started")
        sock = _bind(self.host, self.port)
        self.port = sock.getsockname()[1]
        # log_config=None: leave the process's logging alone. No access log: every URL carries a token.
        tls = {} if self.tls is None else {"ssl_certfile": str(self.tls.cert), "ssl_keyfile": str(self.tls.key)}
        config = uvicorn.Config(self.app, host=self.host, port=self.port, log_config=None, access_log=False,
                                server_header=False, timeout_graceful_shutdown=5, **tls)
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._serve, args=(sock,), name="link-server", daemon=True)
        self._thread.start()
        deadline = time.monotonic() + timeout_s
        while not self._server.started:
            if not self._thread.is_alive():
                sock.close()
                reason = f": {self._error!r}" if self._error is not None else ""
                raise LinkServerError(f"the link endpoint on {self.url} stopped while starting{reason}")
            if time.monotonic() > deadline:
                self.stop()
                raise LinkServerError(f"the link endpoint on {self.url} did not start within {timeout_s:g} s")
            time.sleep(0.01)
        log.info("web server listening on %s", self.url)
        return self

    def stop(self, timeout_s: float = STOP_TIMEOUT_S) -> None:
        if self._server is None or self._thread is None:
            return
        self._server.should_exit = True
        self._thread.join(timeout_s)
        if self._thread.is_alive():
            self._server.force_exit = True  # open connections did not finish: drop them
            self._thread.join(1.0)
            log.warning("link endpoint on %s did not stop within %g s", self.url, timeout_s)

    def __enter__(self) -> LinkServer:
        return self.start()

    def __exit__(self, *_: object) -> None:
        self.stop()

    def _serve(self, sock: socket.socket) -> None:
        assert self._server is not None
        try:
            self._server.run(sockets=[sock])
        except BaseException as error:  # uvicorn exits with SystemExit on a failed startup
            self._error = error
            log.error("link endpoint on %s failed: %r", self.url, error)
        finally:
            sock.close()


def _bind(host: str, port: int) -> socket.socket:
    where = f"{host}:{port}" if ":" not in host else f"[{host}]:{port}"
    try:
        family, kind, proto, _, address = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM,
                                                             flags=socket.AI_PASSIVE)[0]
    except socket.gaierror as error:
        raise LinkServerError(f"cannot listen on {where}: unknown host ({error.strerror})") from None
    sock = socket.socket(family, kind, proto)
    try:
        if os.name != "nt":  # a restart need not wait out TIME_WAIT; a second listener still conflicts
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(address)
    except OSError as error:
        sock.close()
        raise LinkServerError(f"cannot listen on {where}: {error.strerror or error} "
                              "(another program, or another gunwatch, may be using the port)") from None
    return sock
