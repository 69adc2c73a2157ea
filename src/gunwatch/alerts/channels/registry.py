"""Which adapter serves which kind of channel; a new kind is its config model in `config.channels`, one
adapter class, and one line here."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from gunwatch.alerts.channels.apprise_channel import AppriseChannel
from gunwatch.alerts.channels.base import Channel
from gunwatch.alerts.channels.file_sink import FileChannel
from gunwatch.alerts.channels.mqtt import MqttChannel
from gunwatch.alerts.channels.smtp import SmtpChannel
from gunwatch.alerts.channels.webhook import WebhookChannel
from gunwatch.config.channels import BaseChannelConfig, ChannelKind

# Each adapter takes the config model of its kind (`config.channels.CHANNEL_MODELS`).
ADAPTERS: dict[ChannelKind, Callable[[str, Any], Channel]] = {
    "webhook": WebhookChannel,
    "mqtt": MqttChannel,
    "smtp": SmtpChannel,
    "file": FileChannel,
    "apprise": AppriseChannel,
}


class ChannelSetupError(ValueError):
    """A channel that cannot be built from its settings; names the channel."""

    def __init__(self, channel: str, reason: str):
        super().__init__(reason)
        self.channel = channel


def open_channels(configs: dict[str, BaseChannelConfig]) -> dict[str, Channel]:
    """Every configured channel's adapter. A channel that cannot be built is an error for the whole site
    file (said at start, naming the channel), not a silent hole in the alert path."""
    channels: dict[str, Channel] = {}
    for name, config in configs.items():
        try:
            channels[name] = ADAPTERS[config.kind](name, config)
        except ValueError as error:
            for channel in channels.values():
                channel.close()
            raise ChannelSetupError(name, str(error)) from None
    return channels
