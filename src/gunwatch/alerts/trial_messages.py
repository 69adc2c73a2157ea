"""`gunwatch alert test`: a TEST message through each channel now, by the channels' own code, to say which work.

Sent directly, not through the outbox: the answer is wanted now, and a test is not retried or recorded as an
alert. A channel with an address per person (email, SMS) gets one message per recipient with an address on
it; a channel with one destination (a webhook, a broker, a file) gets one. A test message carries no links
and no camera, so it changes no state a receiver keeps (an MQTT threat topic, say).
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from gunwatch.alerts.channels.base import Channel, DeliveryError
from gunwatch.alerts.channels.registry import open_channels
from gunwatch.alerts.message import AlertMessage
from gunwatch.alerts.texts import make_message
from gunwatch.config.alerts import AlertSettings


@dataclass(frozen=True)
class TrialResult:
    """One test message: to `recipient` at `address` on `channel` (None, None: the channel's one destination).
    `error` is None when the receiver accepted it."""

    channel: str
    recipient: str | None
    address: str | None
    error: str | None

    @property
    def delivered(self) -> bool:
        return self.error is None


def chosen_channels(settings: AlertSettings, names: list[str] | None) -> list[str]:
    """The channels to test: the ones named (ValueError naming any the site lacks), else every one."""
    if not names:
        return list(settings.channels)
    unknown = [name for name in names if name not in settings.channels]
    if unknown:
        known = ", ".join(settings.channels) or "none"
        raise ValueError(f"no channel {', '.join(map(repr, unknown))} in alerts.channels (channels: {known})")
    return list(dict.fromkeys(names))


def send_test_messages(settings: AlertSettings, names: list[str] | None = None,
                       now: float | None = None) -> list[TrialResult]:
    """Send a test message through each chosen channel (all by default) and return what became of each, in
    the order of the site file. Raises ValueError for an unknown channel name, ChannelSetupError for a channel
    that cannot be built; a failed send is a result, never an exception."""
    selected = chosen_channels(settings, names)
    now = time.time() if now is None else now
    channels = open_channels({name: settings.channels[name] for name in selected})
    try:
        return [result for name in selected for result in _try_channel(settings, channels[name], now)]
    finally:
        for channel in channels.values():
            channel.close()


def _try_channel(settings: AlertSettings, channel: Channel, now: float) -> list[TrialResult]:
    if not channel.config.needs_address:
        return [_send(settings, channel, None, None, now)]
    reached = [(name, recipient.addresses[channel.name]) for name, recipient in settings.recipients.items()
               if recipient.addresses.get(channel.name)]
    if not reached:
        return [TrialResult(channel.name, None, None, "no recipient has an address on this channel "
                                                      f"(alerts.recipients.NAME.addresses.{channel.name})")]
    return [_send(settings, channel, name, address, now) for name, address in reached]


def _send(settings: AlertSettings, channel: Channel, recipient: str | None, address: str | None,
          now: float) -> TrialResult:
    message = trial_message(settings, channel.name, recipient, now)
    try:
        channel.send(message, address)
    except DeliveryError as error:
        return TrialResult(channel.name, recipient, address, error.reason)
    except Exception as error:  # an adapter's bug: a result like any other failure, so the others are tried
        return TrialResult(channel.name, recipient, address, f"internal error: {type(error).__name__}: {error}")
    return TrialResult(channel.name, recipient, address, None)


def trial_message(settings: AlertSettings, channel: str, recipient: str | None, now: float) -> AlertMessage:
    """The test message for one recipient (or the channel's one destination): kind `test`, no links."""
    label = settings.recipients[recipient].name or recipient if recipient is not None else None
    key = f"test:{channel}:{recipient or '-'}:{now:.3f}"  # a key of its own: receivers must not drop it as a repeat
    context = {"site": settings.site_name, "channel": channel, "created_at": now}
    return make_message(key, "test", context, now, recipient=label)
