"""A loopback port that refuses connections for as long as a test holds it."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def refusing_port(host: str = "127.0.0.1") -> Iterator[int]:
    """A port on `host` (loopback) bound but never listening: a connection to it is refused at once, and since the
    socket stays bound, no other test (another worker, a server started meanwhile) can take the port before
    this one is done. A port found free and closed again could be taken meanwhile, and then answered."""
    with socket.socket() as holder:
        holder.bind((host, 0))
        yield holder.getsockname()[1]
