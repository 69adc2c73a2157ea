"""`notify` steps: a message to each recipient on each channel listed (and the verification gate's
pre-alerts, the same messages before step 0). Undone by a cancel or all-clear to everyone a message may
have reached.

A message is stored without links; they are minted when it is sent, for one person on a per-person channel
(`alerts.outbox.executor`)."""

from __future__ import annotations

from typing import Any, ClassVar

from gunwatch.alerts.message import MessageKind
from gunwatch.alerts.outbox.deliveries import Delivery, DeliveryAction, NewDelivery
from gunwatch.alerts.protocols.steps.base import Outcome, Queued, RunRef, StepKind, StepRun, Tools
from gunwatch.alerts.protocols.targets import targets
from gunwatch.alerts.texts import make_message
from gunwatch.config.alerts import AlertSettings, NotifyStep

# What a cancel repeats of the message it withdraws.
_CONTEXT_FIELDS = ("event_id", "camera", "zone", "score", "first_seen", "confirmed_at", "site", "protocol", "snapshot")


def message_deliveries(settings: AlertSettings, run: RunRef, index: int, kind: MessageKind, to: list[str],
                       via: list[str], now: float) -> tuple[list[NewDelivery], list[str]]:
    """One message per (channel, recipient) reached; and notes on recipients who cannot be reached."""
    found, missing = targets(settings, to, via)
    deliveries = []
    for target in found:
        key = f"{run.event_id}:{run.protocol}:{index}:{kind}:{target.channel}:{target.recipient or '-'}"
        message = make_message(key, kind, run.context, now, recipient=target.label, step=index)
        deliveries.append(NewDelivery(key, kind, "message", target.channel, message.to_json(), run.event_id,
                                      run.run_id, index, target.channel, target.recipient, target.address))
    return deliveries, missing


class NotifyKind(StepKind[NotifyStep]):
    key: ClassVar[str] = "notify"
    action: ClassVar[DeliveryAction | None] = "message"

    def start(self, settings: NotifyStep, at: StepRun) -> Outcome:
        deliveries, missing = message_deliveries(at.settings, at.run, at.index, at.message_kind, settings.to,
                                                 settings.via, at.now)
        return Queued(deliveries, missing)

    def execute(self, delivery: Delivery, tools: Tools) -> None:
        channel = tools.channel(delivery.channel)
        channel.send(tools.message(delivery, channel), delivery.address)

    def undo(self, delivery: Delivery, kind: MessageKind, extra: dict[str, Any], now: float) -> NewDelivery | None:
        """One cancel per (channel, recipient, address), however many messages went there: its key says so."""
        key = f"{delivery.event_id}:{kind}:{delivery.channel}:{delivery.recipient or '-'}:{delivery.address or '-'}"
        context = {name: delivery.payload.get(name) for name in _CONTEXT_FIELDS} | extra
        # Named as the alert named them ("Alice, Bob" for a group on a webhook), not by their keys.
        recipient = delivery.payload.get("recipient") or delivery.recipient
        message = make_message(key, kind, context, now, recipient=recipient)
        return NewDelivery(key, kind, "message", delivery.lane, message.to_json(), delivery.event_id,
                           delivery.run_id, delivery.step, delivery.channel, delivery.recipient, delivery.address)
