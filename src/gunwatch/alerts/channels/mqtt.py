"""MQTT channel (paho-mqtt 2.x): events for automations, and a retained per-camera threat state.

    mqtt://[USER:PASS@]HOST[:1883]     mqtts://[USER:PASS@]HOST[:8883]   (TLS, verified with the system CAs)

Topics, under `topic_prefix` (default `gunwatch`):

    PREFIX/events                 every message, as its JSON object without action links (QoS 1, not retained)
    PREFIX/CAMERA/threat          retained {"state": "ON"|"OFF", "event_id", "kind", "score", "at"}
    PREFIX/CAMERA/availability    retained "offline" when the camera stops delivering video

With `discovery: true`, each camera also gets a Home Assistant binary_sensor (device class `safety`) through
retained `homeassistant/binary_sensor/NODE/threat/config`, NODE being `PREFIX_CAMERA` (`gunwatch_lobby`).

Every publish waits for the broker's PUBACK: a send returns only once the broker has the message, and gives
up within `timeout_s`. The connection is opened on the first send and opened again on the next send after
it dropped; paho's own reconnect loop is off, so that no stale connection keeps queued messages around.
"""

from __future__ import annotations

import json
import os
import re
import threading
import time
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote, urlsplit

import paho.mqtt.client as mqtt

from gunwatch.alerts.channels.base import Channel, DeliveryError
from gunwatch.alerts.message import AlertMessage
from gunwatch.config.channels import MqttChannelConfig
from gunwatch.config.redact import redact_url

DEFAULT_PORTS = {"mqtt": 1883, "mqtts": 8883}
DISCOVERY_PREFIX = "homeassistant"
THREAT_ON_KINDS = ("pre_alert", "alert", "escalation")
THREAT_OFF_KINDS = ("cancel", "all_clear")
# Pings after this much silence: a half-open connection (a broker gone without a FIN) is found within 1.5x.
KEEPALIVE_S = 30
POLL_S = 0.05  # how often a wait for an acknowledgement checks whether the connection is still up

Payload = str | bytes | dict[str, Any]


@dataclass(frozen=True)
class BrokerAddress:
    host: str
    port: int
    tls: bool
    username: str | None = None
    password: str | None = field(default=None, repr=False)


def parse_broker_url(url: str) -> BrokerAddress:
    """`mqtt(s)://[user:pass@]host[:port]` -> BrokerAddress; ValueError (naming the redacted URL) otherwise."""
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    try:
        port = parts.port
    except ValueError:
        port = -1
    if scheme not in DEFAULT_PORTS or not parts.hostname or port == -1:
        raise ValueError(f"not an MQTT broker URL (mqtt://HOST:PORT or mqtts://HOST:PORT): {redact_url(url)}")
    username = unquote(parts.username) if parts.username is not None else None
    password = unquote(parts.password) if parts.password is not None else None
    if username and not password:
        # Typically `${MQTT_PASSWORD:-}` left unset: the broker would take the user with no password.
        raise ValueError(f"the broker URL gives user {username!r} an empty password: set it (e.g. "
                         f"${{MQTT_PASSWORD}}), or leave the user out for an anonymous broker: {redact_url(url)}")
    return BrokerAddress(parts.hostname, port or DEFAULT_PORTS[scheme], scheme == "mqtts", username, password)


def topic_level(name: str) -> str:
    """`name` as one topic level: '/' would add levels, and '+', '#' are wildcards a publish may not carry."""
    return re.sub(r"[/+#\x00]", "_", name) or "_"


def node_id(prefix: str, camera: str) -> str:
    """Home Assistant allows only [a-zA-Z0-9_-] in a discovery node id; the prefix keeps sites apart."""
    return re.sub(r"[^A-Za-z0-9_-]", "_", f"{prefix}_{camera}")


class _Connection:
    """One paho client and what its callbacks (run on paho's network thread) have seen."""

    def __init__(self, client_id: str, address: BrokerAddress) -> None:
        self.connack = threading.Event()  # set on CONNACK, accepted or refused
        self.up = threading.Event()  # set while connected
        self.refusal: str | None = None
        self.client = mqtt.Client(
            mqtt.CallbackAPIVersion.VERSION2,
            client_id=client_id,
            clean_session=True,
            protocol=mqtt.MQTTv311,
            reconnect_on_failure=False,
        )
        if address.username is not None:
            self.client.username_pw_set(address.username, address.password)
        if address.tls:
            self.client.tls_set()
        self.client.on_connect = self._on_connect
        self.client.on_disconnect = self._on_disconnect

    @property
    def alive(self) -> bool:
        return self.up.is_set() and self.client.is_connected()

    def stop(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()

    def _on_connect(self, client: Any, userdata: Any, flags: Any, reason_code: Any, properties: Any) -> None:
        if reason_code.is_failure:
            self.refusal = str(reason_code)
        else:
            self.up.set()
        self.connack.set()

    def _on_disconnect(self, client: Any, userdata: Any, flags: Any, reason_code: Any, properties: Any) -> None:
        self.up.clear()


class MqttChannel(Channel):
    """Publishes alerts to one MQTT broker; `address` is ignored (the broker is the one destination)."""

    config: MqttChannelConfig

    def __init__(self, name: str, config: MqttChannelConfig):
        super().__init__(name, config)
        self.address = parse_broker_url(config.url)
        self.prefix = config.topic_prefix
        self.client_id = f"gunwatch-{name}-{os.getpid()}"  # stable: a reconnect takes over a half-open session
        self._connection: _Connection | None = None
        self._cameras: set[str] = set()  # cameras announced to Home Assistant (re-announced on each connect)

    def send(self, message: AlertMessage, address: str | None) -> None:
        # Without links: every subscriber of the broker reads this topic.
        messages: list[tuple[str, Payload, bool]] = [(f"{self.prefix}/events", message.broadcast_json(), False)]
        camera = message.camera
        new_camera = camera is not None and self.config.discovery and camera not in self._cameras
        if camera is not None:
            if new_camera:
                messages.insert(0, self._discovery(camera))
            level = topic_level(camera)
            if message.kind == "camera_offline":
                messages.append((f"{self.prefix}/{level}/availability", "offline", True))
            elif message.kind in THREAT_ON_KINDS or message.kind in THREAT_OFF_KINDS:
                messages.append((f"{self.prefix}/{level}/threat", self._threat_state(message), True))
        self._publish_all(messages, qos=1)
        if new_camera and camera is not None:
            self._cameras.add(camera)  # only once the broker has its discovery config

    def reach(self) -> str:
        """Connect to the broker (TLS and login as the URL says) and wait for its CONNACK; nothing published."""
        self._connected(time.monotonic() + self.config.timeout_s)
        stopper = self._drop()
        if stopper is not None:
            stopper.join(self.config.timeout_s)
        return f"connected to {self.address.host}:{self.address.port}" + (" (TLS)" if self.address.tls else "")

    def publish(self, topic: str, payload: Payload, retain: bool = False, qos: int = 1) -> None:
        """Publishes one message (a dict goes as JSON) and returns once the broker has it (PUBACK for QoS 1
        and 2); DeliveryError as for send. For protocol steps: sirens, lights, PA systems."""
        self._publish_all([(topic, payload, retain)], qos)

    def close(self) -> None:
        stopper = self._drop()
        if stopper is not None:
            stopper.join(self.config.timeout_s)

    def _publish_all(self, messages: list[tuple[str, Payload, bool]], qos: int) -> None:
        for topic, _, _ in messages:
            if not topic or any(character in topic for character in "+#\x00"):
                raise self._error(f"cannot publish to topic {topic!r} (empty, or a wildcard)", retryable=False,
                                  sent=False)
        if qos not in (0, 1, 2):
            raise self._error(f"QoS must be 0, 1 or 2, not {qos!r}", retryable=False, sent=False)
        deadline = time.monotonic() + self.config.timeout_s
        try:
            self._exchange(self._connected(deadline), messages, qos, deadline)
        except DeliveryError:
            self._drop()  # whatever went wrong, the next send starts on a fresh connection
            raise

    def _connected(self, deadline: float) -> _Connection:
        if self._connection is not None and self._connection.alive:
            return self._connection
        self._drop()
        connection = self._connection = _Connection(self.client_id, self.address)
        connection.client.connect_timeout = max(deadline - time.monotonic(), 0.001)  # TCP and TLS handshake
        try:
            connection.client.connect(self.address.host, self.address.port, keepalive=KEEPALIVE_S)
        except (OSError, ValueError) as error:  # refused, unreachable, unknown host, TLS failures
            raise self._error(f"cannot connect: {error}", sent=False) from error
        connection.client.loop_start()
        if not connection.connack.wait(max(deadline - time.monotonic(), 0)):
            raise self._error(f"no answer (CONNACK) within {self.config.timeout_s:g} s", sent=False)
        if connection.refusal is not None:
            raise self._error(f"the broker refused the connection: {connection.refusal}", sent=False)
        # The broker may have restarted and forgotten the retained discovery configs.
        self._exchange(connection, [self._discovery(camera) for camera in sorted(self._cameras)], 1, deadline)
        return connection

    def _exchange(
        self, connection: _Connection, messages: list[tuple[str, Payload, bool]], qos: int, deadline: float
    ) -> None:
        # All out first, then the acknowledgements: one round trip, and one connection keeps their order.
        sent = [
            (topic, connection.client.publish(topic, _encode(data), qos, retain)) for topic, data, retain in messages
        ]
        for topic, info in sent:
            self._await_ack(connection, topic, info, deadline)

    def _await_ack(self, connection: _Connection, topic: str, info: mqtt.MQTTMessageInfo, deadline: float) -> None:
        try:
            while not info.is_published():
                if not connection.up.is_set():
                    raise self._error(f"connection lost before the broker acknowledged {topic!r}")
                left = deadline - time.monotonic()
                if left <= 0:
                    raise self._error(f"no acknowledgement for {topic!r} within {self.config.timeout_s:g} s")
                info.wait_for_publish(min(left, POLL_S))
        except (RuntimeError, ValueError) as error:  # paho: not queued (no connection), or failed
            raise self._error(f"publish to {topic!r} failed: {error}") from error

    def _drop(self) -> threading.Thread | None:
        """Forgets the connection. Its paho thread can outlive a disconnect while a black-holed connection
        holds unacknowledged messages (until the keepalive gives up), so it winds down on a thread of its own."""
        connection, self._connection = self._connection, None
        if connection is None:
            return None
        stopper = threading.Thread(target=connection.stop, name=f"mqtt-{self.name}-close", daemon=True)
        stopper.start()
        return stopper

    def _discovery(self, camera: str) -> tuple[str, Payload, bool]:
        node = node_id(self.prefix, camera)
        config = {
            "name": f"{camera} threat",
            "unique_id": f"{node}_threat",
            "device_class": "safety",
            "state_topic": f"{self.prefix}/{topic_level(camera)}/threat",
            "value_template": "{{ value_json.state }}",
            "payload_on": "ON",
            "payload_off": "OFF",
            "device": {"identifiers": [node], "name": f"gunwatch {camera}", "manufacturer": "gunwatch"},
        }
        return f"{DISCOVERY_PREFIX}/binary_sensor/{node}/threat/config", config, True

    @staticmethod
    def _threat_state(message: AlertMessage) -> dict[str, Any]:
        return {
            "state": "ON" if message.kind in THREAT_ON_KINDS else "OFF",
            "event_id": message.event_id,
            "kind": message.kind,
            "score": message.score,
            "at": message.created_at,
        }

    def _error(self, what: str, retryable: bool = True, sent: bool = True) -> DeliveryError:
        """`sent=False`: failed before any message went to the broker (it cannot have arrived)."""
        return DeliveryError(f"mqtt channel {self.name!r} ({redact_url(self.config.url)}): {what}", retryable,
                             may_have_arrived=sent)


def _encode(payload: Payload) -> bytes:
    if isinstance(payload, dict):
        return json.dumps(payload).encode()
    return payload.encode() if isinstance(payload, str) else payload
