"""`publish` steps: a message on an MQTT channel for sirens, lights, a PA system. Undone by publishing its
`cancel_payload` on the same topic."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

from gunwatch.alerts.channels.base import DeliveryError
from gunwatch.alerts.channels.mqtt import MqttChannel
from gunwatch.alerts.outbox.deliveries import Delivery, DeliveryAction
from gunwatch.alerts.protocols.actions import StepFound, StepMismatch, fill
from gunwatch.alerts.protocols.steps.base import ActionKind, Tools
from gunwatch.config.alerts import PublishStep


@dataclass(frozen=True)
class Publish:
    channel: str
    topic: str
    payload: Any
    retain: bool


class PublishKind(ActionKind[PublishStep, Publish]):
    """Delivered on its channel's lane, in order with that channel's messages."""

    key: ClassVar[str] = "publish"
    action: ClassVar[DeliveryAction] = "publish"

    def channel(self, settings: PublishStep) -> str | None:
        return settings.channel

    def has_undo(self, settings: PublishStep) -> bool:
        return settings.cancel_payload is not None

    def build(self, settings: PublishStep, found: StepFound) -> Publish:
        data = settings.cancel_payload if found.undo else settings.payload
        if data is None:
            raise StepMismatch(f"{found.where} has no cancel_payload")
        return Publish(settings.channel, fill(settings.topic, found.variables), fill(data, found.variables),
                       settings.retain)

    def perform(self, action: Publish, delivery: Delivery, tools: Tools) -> None:
        channel = tools.channel(action.channel)
        if not isinstance(channel, MqttChannel):
            raise DeliveryError(f"channel {action.channel!r} is not an MQTT channel", retryable=False)
        channel.publish(action.topic, action.payload, retain=action.retain)
