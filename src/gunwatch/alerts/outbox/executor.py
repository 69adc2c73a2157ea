"""Performs one delivery: a message on its channel, or a protocol action (an HTTP call, an MQTT publish,
a local command)."""

from __future__ import annotations

import contextlib
from typing import Any

import httpx

from gunwatch.alerts.channels.base import Channel, DeliveryError
from gunwatch.alerts.channels.mqtt import MqttChannel
from gunwatch.alerts.channels.webhook import call_endpoint
from gunwatch.alerts.commands import run_command
from gunwatch.alerts.message import AlertMessage
from gunwatch.alerts.outbox.deliveries import Delivery
from gunwatch.config.alerts import AlertSettings, RetrySettings

ACTION_RETRY = RetrySettings()  # calls and commands: the defaults


class DeliveryExecutor:
    """Maps a stored delivery to the call that makes it. Each lane's worker calls it for its own lane only,
    so a channel is used by one thread at a time."""

    def __init__(self, channels: dict[str, Channel], settings: AlertSettings | None = None):
        """`settings`: the site's alerts section, where call steps' secrets and headers are read."""
        self.channels = channels
        self.settings = settings
        self._http: httpx.Client | None = None  # the call lane's connections, kept between calls

    def execute(self, delivery: Delivery) -> None:
        """Returns when delivered; raises DeliveryError otherwise."""
        payload = delivery.payload
        if delivery.action == "message":
            self._channel(delivery.channel).send(AlertMessage.from_json(payload), delivery.address)
        elif delivery.action == "call":
            if self._http is None:
                self._http = httpx.Client()
            secret, headers = self._call_credentials(payload.get("credentials"))
            call_endpoint(payload["url"], payload.get("method", "POST"), payload.get("body"), headers,
                          float(payload.get("timeout_s", 10.0)), secret=secret, label=f"call step {delivery.key}",
                          client=self._http)
        elif delivery.action == "publish":
            channel = self._channel(payload["channel"])
            if not isinstance(channel, MqttChannel):
                raise DeliveryError(f"channel {payload['channel']!r} is not an MQTT channel", retryable=False)
            channel.publish(payload["topic"], payload["payload"], retain=bool(payload.get("retain", False)))
        elif delivery.action == "command":
            run_command(list(payload["command"]), float(payload.get("timeout_s", 30.0)))
        else:
            raise DeliveryError(f"unknown action {delivery.action!r}", retryable=False)

    def _call_credentials(self, source: dict[str, Any] | None) -> tuple[str | None, dict[str, str]]:
        """The secret and headers of the call step `source` names, from the site file."""
        if not source:
            return None, {}
        name, index = source.get("protocol"), source.get("step")
        protocol = self.settings.protocols.get(name) if self.settings is not None and name else None
        call = protocol.steps[index].call if protocol and isinstance(index, int) and index < len(protocol.steps) \
            else None
        if call is not None and source.get("undo"):
            call = call.cancel
        if call is None:
            raise DeliveryError(f"the site file has no call step {index} in protocol {name!r} any more, "
                                "so the call's credentials are unknown", retryable=False)
        return call.secret, call.headers

    def retry_settings(self, delivery: Delivery) -> RetrySettings:
        channel = self.channels.get(delivery.channel or "") if delivery.action in ("message", "publish") else None
        return channel.config.retry if channel is not None else ACTION_RETRY

    def max_per_minute(self, delivery: Delivery) -> int | None:
        channel = self.channels.get(delivery.channel or "") if delivery.action == "message" else None
        return channel.config.max_per_minute if channel is not None else None

    def _channel(self, name: str | None) -> Channel:
        channel = self.channels.get(name or "")
        if channel is None:
            # The site file no longer has this channel (edited since the delivery was queued).
            raise DeliveryError(f"no channel {name!r} in the site file", retryable=False)
        return channel

    def close(self) -> None:
        if self._http is not None:
            self._http.close()
        for channel in self.channels.values():
            with contextlib.suppress(Exception):  # closing is best effort; the process is ending
                channel.close()
