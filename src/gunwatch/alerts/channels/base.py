"""The interface every channel adapter implements."""

from __future__ import annotations

from abc import ABC, abstractmethod

from gunwatch.alerts.message import AlertMessage
from gunwatch.config.channels import BaseChannelConfig


class DeliveryError(Exception):
    """A send that did not reach the receiver, as far as we know. `retryable=False` for errors a retry cannot
    fix (a rejected address, a malformed URL); the outbox then stops retrying and marks the delivery failed.

    `may_have_arrived`: whether the message may have reached the receiver all the same. True (the default)
    where the outcome is unknown: a timeout after the request went out, a connection dropped mid-way. False
    only where the receiver certainly did not take it: nothing connected, or it answered with a refusal. A
    delivery whose every attempt certainly failed gets no cancel (`Outbox.withdraw`): a "cancelled" to
    someone who never saw the alert only confuses them."""

    def __init__(self, reason: str, retryable: bool = True, may_have_arrived: bool = True):
        super().__init__(reason)
        self.reason = reason
        self.retryable = retryable
        self.may_have_arrived = may_have_arrived


class Channel(ABC):
    """One configured channel (`alerts.channels.NAME` in the site file).

    `send` delivers one message to one address (an email address, a phone number, a chat id; None for
    channels that have a single destination such as a webhook or an MQTT broker) and returns only when the
    receiver has accepted it. It must give up within `config.timeout_s`, raising DeliveryError: the
    outbox retries, and a hanging receiver must never hold a worker for long. Each channel is used by one
    outbox worker thread at a time, so adapters need no locking of their own.
    """

    def __init__(self, name: str, config: BaseChannelConfig):
        self.name = name
        self.config = config

    @abstractmethod
    def send(self, message: AlertMessage, address: str | None) -> None: ...

    def reach(self) -> str | None:
        """Whether the receiver can be reached, without sending anything (`gunwatch config check --reach`):
        what was done (e.g. "connected, EHLO, STARTTLS ok"), DeliveryError when it fails, or None where the
        channel cannot be checked without sending a message. Within `config.timeout_s`."""
        return None

    def close(self) -> None:  # noqa: B027 - most channels hold nothing open
        """Release connections; the channel is not used afterwards."""
