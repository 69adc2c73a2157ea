"""Performs one delivery: a message on its channel, or a protocol action (an HTTP call, an MQTT publish,
a local command), each by the module of its kind of step (`alerts.protocols.steps`).

Rows are not trusted as stored: an action is rebuilt from the site file it refers to
(`alerts.protocols.actions`), and a message's action links are minted here, at sending, for one person on
a per-person channel at the address the site file gives them. Nothing a row says decides what runs, where
a credential goes, or who gets a link.
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import time

import httpx

from gunwatch.alerts.channels.base import Channel, DeliveryError
from gunwatch.alerts.links import OFFERED, message_links, snapshot_link
from gunwatch.alerts.message import AlertMessage
from gunwatch.alerts.outbox.deliveries import Delivery
from gunwatch.alerts.protocols.steps.registry import BY_ACTION
from gunwatch.config.alerts import AlertSettings
from gunwatch.config.channels import RetrySettings

log = logging.getLogger(__name__)

ACTION_RETRY = RetrySettings()  # calls and commands: the defaults


class DeliveryExecutor:
    """Maps a stored delivery to the call that makes it. Each lane's worker calls it for its own lane only,
    so a channel is used by one thread at a time."""

    def __init__(self, channels: dict[str, Channel], settings: AlertSettings | None = None):
        """`settings`: the site's alerts section, that actions are rebuilt from and links signed with; without
        it messages go out without links and actions are refused."""
        self.channels = channels
        self.settings = settings
        self._http: httpx.Client | None = None  # the call lane's connections, kept between calls

    def execute(self, delivery: Delivery) -> None:
        """Returns when delivered; raises DeliveryError otherwise. The kind of step the row belongs to
        performs it: a message on its channel, an action rebuilt from the site file."""
        kind = BY_ACTION.get(delivery.action)
        if kind is None:
            raise DeliveryError(f"unknown action {delivery.action!r}", retryable=False)
        kind.execute(delivery, self)

    def message(self, delivery: Delivery, channel: Channel) -> AlertMessage:
        """The stored message, with the links of its recipient, signed now, where it may carry any: its action
        links and a link to its snapshot (the link endpoint serves the picture to the holder of an action
        link). Where it may not (a broadcast, an address the site file does not give), neither."""
        message = AlertMessage.from_json(delivery.payload)
        links = self._links(delivery, channel)
        snapshot_url = snapshot_link(links) if message.snapshot else None
        return dataclasses.replace(message, links=links, snapshot_url=snapshot_url)

    def http(self) -> httpx.Client:
        """The call lane's connections, kept between calls."""
        if self._http is None:
            self._http = httpx.Client()
        return self._http

    def _links(self, delivery: Delivery, channel: Channel) -> dict[str, str]:
        # Only one person's own channel, at the address the site file gives them: a broadcast (webhook, MQTT,
        # file) reaches people who must not be able to call a lockdown off, and an address changed in the
        # database must not receive a working link.
        if self.settings is None or self.settings.links.base_url is None or delivery.kind not in OFFERED \
                or not channel.config.needs_address:
            return {}
        recipient = self.settings.recipients.get(delivery.recipient or "")
        if recipient is None or not delivery.address or recipient.addresses.get(channel.name) != delivery.address:
            log.warning("outbox: %s goes out without links: %s is not the site file's address of %r on %s",
                        delivery.key, delivery.address, delivery.recipient, channel.name)
            return {}
        return message_links(self.settings.links, delivery.kind, delivery.event_id, delivery.recipient, time.time())

    def retry_settings(self, delivery: Delivery) -> RetrySettings:
        channel = self.channels.get(delivery.channel or "") if delivery.action in ("message", "publish") else None
        return channel.config.retry if channel is not None else ACTION_RETRY

    def max_per_minute(self, delivery: Delivery) -> int | None:
        channel = self.channels.get(delivery.channel or "") if delivery.action == "message" else None
        return channel.config.max_per_minute if channel is not None else None

    def channel(self, name: str | None) -> Channel:
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
