"""A TCP server that accepts connections and never says a word: the far end of protocol timeout tests.

    with SilentServer() as silent:
        with pytest.raises(DeliveryError):
            send_to(f"smtp://127.0.0.1:{silent.port}", timeout_s=0.3)
        assert silent.client_hung_up_first()  # the client gave up while the server was still holding it

It holds each connection unanswered until the client closes it, so a send that returns did so because the
client gave up, whatever the machine's speed. HANG_GUARD_S only keeps a broken client timeout from hanging
the test forever: then the server drops the connection (`gave_up` set) and the client sees a disconnect, not
its own timeout, and `client_hung_up_first()` is False.
"""

from __future__ import annotations

import socket
import threading
from types import TracebackType

HANG_GUARD_S = 60.0  # far past any timeout under test: reached only when the client's timeout is broken


class SilentServer:
    def __init__(self) -> None:
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port: int = self._listener.getsockname()[1]
        self.connected = threading.Event()  # a client connected (and got no greeting)
        self._ended = threading.Event()  # the held connection ended, by either side
        self._client_hung_up = False  # the client closed it while the server was still silent
        self._thread = threading.Thread(target=self._hold, name="silent-server", daemon=True)

    def __enter__(self) -> SilentServer:
        self._thread.start()
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None, tb: TracebackType | None) -> None:
        self._listener.close()

    def client_hung_up_first(self) -> bool:
        """Whether the held connection ended because the client closed it (not the server's hang guard)."""
        self._ended.wait(HANG_GUARD_S + 5)  # the guard ends it by then if the client does not
        return self._client_hung_up

    def _hold(self) -> None:
        try:
            connection, _ = self._listener.accept()
        except OSError:  # closed before anyone connected
            return
        with connection:
            self.connected.set()
            connection.settimeout(HANG_GUARD_S)
            try:
                while connection.recv(4096):  # whatever the client says, no answer
                    pass
                self._client_hung_up = True
            except TimeoutError:
                pass  # the hang guard ran out: the client never gave up
            except OSError:  # reset by the client: it hung up too
                self._client_hung_up = True
            finally:
                self._ended.set()
