"""A real MQTT broker on loopback for tests: mosquitto with a generated config in a temporary folder.

The binary comes from $GUNWATCH_MOSQUITTO, /usr/sbin/mosquitto (Debian: `apt-get install -y mosquitto`) or
PATH. Without it the tests that need a broker skip, and say why; with GUNWATCH_REQUIRE_MQTT=1 (CI) that is a
failure instead, so a missing package cannot pass unseen.

    def test_x(mosquitto_broker):             # one broker for the session: mqtt://127.0.0.1:PORT
        with MqttCollector(mosquitto_broker, "gunwatch/#") as seen:
            ...
            [message] = seen.wait_for(1)      # (topic, payload bytes, retain flag)
    mosquitto_broker.stop(); mosquitto_broker.start()   # an outage: the same port and URL afterwards

The session's broker is shared: tests should use topic prefixes of their own, since retained messages
stay until the broker stops (persistence is off, so a restart forgets them).
"""

from __future__ import annotations

import itertools
import json
import os
import shutil
import socket
import subprocess
import tempfile
import threading
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from types import TracebackType
from typing import Any, NamedTuple, NoReturn

import pytest

from support.waiting import MIN_TIMEOUT_S

START_ATTEMPTS = 3  # a free port can be taken between choosing it and the broker binding it
READY_MARKER = " running"  # mosquitto logs "mosquitto version X running" once its listeners are bound
APT_PACKAGE = "mosquitto"


class MosquittoBroker:
    """mosquitto listening on 127.0.0.1:PORT; the port is chosen at the first start and kept across restarts."""

    host = "127.0.0.1"

    def __init__(self, binary: Path, root: Path, port: int = 0) -> None:
        self.binary, self.root, self.port = binary, root, port
        self.config = root / "mosquitto.conf"
        self.log = root / "mosquitto.log"
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        if not self.port:
            raise RuntimeError("the broker has not started yet")
        return f"mqtt://{self.host}:{self.port}"

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    def start(self, timeout: float = 10.0) -> MosquittoBroker:
        """Starts the broker (on the kept port, or a free one the first time) and waits until it accepts."""
        if self.running:
            return self
        self.stop()  # a broker that died on its own: reap it
        attempts = 1 if self.port else START_ATTEMPTS  # a restart must come back on the same port
        for _ in range(attempts):
            port = self.port or _free_port()
            if self._start_on(port, timeout):
                self.port = port
                return self
        raise RuntimeError(f"mosquitto did not start ({self.binary}); see {self.log}:\n{self.log_tail()}")

    def stop(self, timeout: float = 5.0) -> None:
        """Ends the broker: its clients' connections close and the port refuses new ones until start()."""
        process, self._process = self._process, None
        if process is None:
            return
        process.terminate()
        try:
            process.wait(timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()

    def restart(self) -> MosquittoBroker:
        self.stop()
        return self.start()

    def log_tail(self, lines: int = 20) -> str:
        if not self.log.exists():
            return "(no log)"
        return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])

    def _start_on(self, port: int, timeout: float) -> bool:
        self.config.write_text(_config(self.host, port, self.log))
        log_start = self.log.stat().st_size if self.log.exists() else 0  # the log is appended across restarts
        # Its own output goes to the log file; stdout/stderr only catch what it says before opening the log.
        with (self.root / "mosquitto.out").open("ab") as out:
            self._process = subprocess.Popen(
                [str(self.binary), "-c", str(self.config)], stdin=subprocess.DEVNULL, stdout=out, stderr=out
            )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not self.running:  # e.g. "Address already in use": it exits at once
                self.stop()
                return False
            if self._logged_ready(log_start) and _accepts(self.host, port):
                return True
            time.sleep(0.02)
        self.stop()
        return False

    def _logged_ready(self, offset: int) -> bool:
        # The log, not only an accepting port: another process could hold the port we picked.
        if not self.log.exists():
            return False
        with self.log.open("rb") as log:
            log.seek(offset)
            return READY_MARKER.encode() in log.read()


def _config(host: str, port: int, log: Path) -> str:
    lines = [
        f"listener {port} {host}",
        "allow_anonymous true",
        "persistence false",
        f"log_dest file {log}",
        "log_type error",
        "log_type warning",
        "log_type notice",
        "log_type information",
        "connection_messages true",
    ]
    if os.geteuid() == 0:
        # As root, mosquitto drops privileges to the `mosquitto` user before opening its log, which it then
        # cannot write in our root-owned temporary folder, and exits. `user root` keeps it as it was started.
        lines.append("user root")
    return "\n".join(lines) + "\n"


def _accepts(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=0.5):
            return True
    except OSError:
        return False


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def find_mosquitto() -> Path | None:
    candidates = [os.environ.get("GUNWATCH_MOSQUITTO", ""), "/usr/sbin/mosquitto", shutil.which("mosquitto") or ""]
    for candidate in filter(None, candidates):
        if Path(candidate).is_file() and os.access(candidate, os.X_OK):
            return Path(candidate)
    return None


def _unavailable(reason: str) -> NoReturn:
    if os.environ.get("GUNWATCH_REQUIRE_MQTT") == "1":
        pytest.fail(f"MQTT tests required (GUNWATCH_REQUIRE_MQTT=1) but {reason}")
    pytest.skip(reason)


@pytest.fixture(scope="session")
def mosquitto_broker() -> Iterator[MosquittoBroker]:
    """One broker for the whole session (it starts in a few milliseconds); stopped and removed at the end.
    A test that stops it must start it again (try/finally), since later tests share it."""
    binary = find_mosquitto()
    if binary is None:
        _unavailable(f"the mosquitto broker was not found: `apt-get install {APT_PACKAGE}`, or set GUNWATCH_MOSQUITTO")
    pytest.importorskip("paho.mqtt.client")
    broker = MosquittoBroker(binary, Path(tempfile.mkdtemp(prefix="gunwatch-mqtt-")))
    try:
        broker.start()
    except RuntimeError as error:
        shutil.rmtree(broker.root, ignore_errors=True)
        pytest.fail(str(error))
    try:
        yield broker
    finally:
        broker.stop()
        shutil.rmtree(broker.root, ignore_errors=True)


class Received(NamedTuple):
    topic: str
    payload: bytes
    retain: bool

    def json(self) -> Any:
        return json.loads(self.payload)


_collector_numbers = itertools.count()


class MqttCollector:
    """A paho client subscribed to `topic_filter` (one, or several) that records what arrives, in order,
    thread-safely. Retained messages the broker already holds arrive first, with retain=True; live ones have
    retain=False. The subscription is acknowledged before the constructor returns.
    """

    def __init__(self, broker: MosquittoBroker, topic_filter: str | Sequence[str], timeout: float = 5.0) -> None:
        import paho.mqtt.client as mqtt

        self.topic_filters = [topic_filter] if isinstance(topic_filter, str) else list(topic_filter)
        self.messages: list[Received] = []
        self._arrived = threading.Condition()
        self._subscribed = threading.Event()
        client_id = f"gunwatch-test-collector-{os.getpid()}-{next(_collector_numbers)}"
        self._client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=client_id)
        self._client.on_connect = self._on_connect
        self._client.on_subscribe = lambda *_: self._subscribed.set()
        self._client.on_message = self._on_message
        self._client.connect(broker.host, broker.port)
        self._client.loop_start()
        if not self._subscribed.wait(timeout):  # messages published after this returns are seen
            self.close()
            raise AssertionError(f"no SUBACK for {self.topic_filters} within {timeout:g} s:\n{broker.log_tail()}")

    def wait_for(self, count: int, timeout: float = 5.0) -> list[Received]:
        """The first `count` (or more) messages; AssertionError, listing what did arrive, after `timeout` (at
        least MIN_TIMEOUT_S: see support.waiting)."""
        timeout = max(timeout, MIN_TIMEOUT_S)
        with self._arrived:
            if not self._arrived.wait_for(lambda: len(self.messages) >= count, timeout):
                raise AssertionError(
                    f"{len(self.messages)} of {count} messages on {self.topic_filters} within {timeout:g} s: "
                    f"{self.messages!r}"
                )
            return list(self.messages)

    def wait_for_topic(self, topic: str, timeout: float = 5.0) -> list[Received]:
        """The messages up to and including the first on `topic`: with a marker published last, all that
        came before it (one connection delivers in order). Waits at least MIN_TIMEOUT_S, as support.waiting."""
        timeout = max(timeout, MIN_TIMEOUT_S)
        with self._arrived:
            if not self._arrived.wait_for(lambda: any(message.topic == topic for message in self.messages), timeout):
                raise AssertionError(f"nothing on {topic!r} within {timeout:g} s; received {self.messages!r}")
            topics = [message.topic for message in self.messages]
            return self.messages[: topics.index(topic) + 1]

    def close(self) -> None:
        self._client.disconnect()
        self._client.loop_stop()

    def __enter__(self) -> MqttCollector:
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None):
        self.close()

    def _on_connect(self, client: Any, userdata: Any, flags: Any, reason_code: Any, properties: Any) -> None:
        if not reason_code.is_failure:
            client.subscribe([(topic_filter, 1) for topic_filter in self.topic_filters])

    def _on_message(self, client: Any, userdata: Any, message: Any) -> None:
        with self._arrived:
            self.messages.append(Received(message.topic, bytes(message.payload), bool(message.retain)))
            self._arrived.notify_all()
