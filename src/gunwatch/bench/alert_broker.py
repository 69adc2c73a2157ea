"""The MQTT side of `gunwatch bench alerts`: mosquitto on loopback, and a subscriber noting arrivals.

The broker is the system's mosquitto (/usr/sbin/mosquitto or PATH; Debian: `apt-get install mosquitto`),
started as a subprocess with a config in the bench's temp folder. `mqtt_unavailable()` says when there is none.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import threading
import time
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt

from gunwatch.bench.alert_receivers import HOST, Arrival, ArrivalLog, free_port

READY_MARKER = b" running"  # mosquitto logs "mosquitto version X running" once its listener is bound
START_TIMEOUT_S = 10.0


def find_mosquitto() -> Path | None:
    for candidate in ("/usr/sbin/mosquitto", shutil.which("mosquitto") or ""):
        if candidate and Path(candidate).is_file() and os.access(candidate, os.X_OK):
            return Path(candidate)
    return None


def mqtt_unavailable() -> str | None:
    """Why there is no local broker, or None."""
    return None if find_mosquitto() is not None else "mosquitto is not installed (apt-get install mosquitto)"


def broker_config(port: int, log: Path) -> str:
    lines = [f"listener {port} {HOST}", "allow_anonymous true", "persistence false", f"log_dest file {log}"]
    if os.geteuid() == 0:
        # As root, mosquitto drops privileges to its own user, which then cannot write the log in our
        # root-owned temp folder, and exits. `user root` keeps it as it was started.
        lines.append("user root")
    return "\n".join(lines) + "\n"


class MqttReceiver:
    """mosquitto on a free port and a paho client subscribed to `PREFIX/events` (QoS 1), where the channel
    publishes every message as its JSON (with `event_id`)."""

    def __init__(self, log: ArrivalLog, folder: Path, topic_prefix: str, channel: str = "mqtt") -> None:
        self.log, self.folder, self.channel = log, folder, channel
        self.topic = f"{topic_prefix}/events"
        self.port = 0
        self._broker: subprocess.Popen[bytes] | None = None
        self._client: Any = None

    @property
    def url(self) -> str:
        return f"mqtt://{HOST}:{self.port}"

    def start(self) -> MqttReceiver:
        binary = find_mosquitto()
        if binary is None:
            raise RuntimeError("mosquitto is not installed")
        self.port = free_port()
        self._start_broker(binary)
        self._subscribe()
        return self

    def stop(self) -> None:
        if self._client is not None:
            self._client.disconnect()
            self._client.loop_stop()
            self._client = None
        broker, self._broker = self._broker, None
        if broker is not None:
            broker.terminate()
            try:
                broker.wait(5)
            except subprocess.TimeoutExpired:
                broker.kill()
                broker.wait()

    def _start_broker(self, binary: Path) -> None:
        config, log = self.folder / "mosquitto.conf", self.folder / "mosquitto.log"
        config.write_text(broker_config(self.port, log))
        with (self.folder / "mosquitto.out").open("ab") as out:
            self._broker = subprocess.Popen([str(binary), "-c", str(config)], stdin=subprocess.DEVNULL,
                                            stdout=out, stderr=out)
        deadline = time.monotonic() + START_TIMEOUT_S
        while time.monotonic() < deadline:
            if self._broker.poll() is not None:
                break  # e.g. the port was taken between choosing and binding it
            # The log too, not only an open port: another process could hold the port we picked.
            if log.exists() and READY_MARKER in log.read_bytes() and _accepts(self.port):
                return
            time.sleep(0.02)
        tail = log.read_text(errors="replace")[-500:] if log.exists() else "(no log)"
        self.stop()
        raise RuntimeError(f"mosquitto did not start on port {self.port}: {tail}")

    def _subscribe(self) -> None:
        subscribed = threading.Event()
        client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=f"gunwatch-bench-{os.getpid()}")
        client.on_connect = lambda c, *_: c.subscribe(self.topic, qos=1)
        client.on_subscribe = lambda *_: subscribed.set()
        client.on_message = self._on_message
        client.connect(HOST, self.port)
        client.loop_start()
        self._client = client
        if not subscribed.wait(START_TIMEOUT_S):  # messages published after this are seen
            self.stop()
            raise RuntimeError(f"no SUBACK from mosquitto for {self.topic} within {START_TIMEOUT_S:g} s")

    def _on_message(self, client: Any, userdata: Any, message: Any) -> None:
        at = Arrival.now()
        try:
            event_id = json.loads(message.payload).get("event_id")
        except (ValueError, AttributeError):
            event_id = None
        if event_id is None:
            self.log.reject(self.channel)
        else:
            self.log.record(self.channel, str(event_id), at)


def _accepts(port: int) -> bool:
    try:
        with socket.create_connection((HOST, port), timeout=0.5):
            return True
    except OSError:
        return False
