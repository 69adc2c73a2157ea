"""A protocol step turned into outbox deliveries: messages for notify, actions for call / publish / run.

What is stored holds no credential and no signed link: a message's action links are minted when it is sent
on a per-person channel (`alerts.outbox.executor`), and an action is stored as a reference to its step in
the site file (`alerts.protocols.actions`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from gunwatch.alerts.message import MessageKind
from gunwatch.alerts.outbox.deliveries import CALL_LANE, COMMAND_LANE, NewDelivery
from gunwatch.alerts.protocols.actions import action_payload
from gunwatch.alerts.protocols.targets import targets
from gunwatch.alerts.texts import make_message
from gunwatch.config.alerts import AlertSettings, Step

VERIFY_STEP = -1  # the verification gate's pre-alerts come before step 0


@dataclass(frozen=True)
class RunRef:
    """What every delivery of a run carries: the run, its event (or offline subject) and its context."""

    run_id: int
    event_id: str
    protocol: str
    context: dict[str, Any]


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


def step_deliveries(settings: AlertSettings, run: RunRef, index: int, step: Step, kind: MessageKind,
                    now: float) -> tuple[list[NewDelivery], list[str]]:
    """The deliveries of a notify, call, publish or run step (a wait_ack step has none)."""
    prefix = f"{run.event_id}:{run.protocol}:{index}"
    if step.notify is not None:
        return message_deliveries(settings, run, index, kind, step.notify.to, step.notify.via, now)
    payload = action_payload(run.protocol, index, step, run.context)
    if step.call is not None:
        return [NewDelivery(f"{prefix}:call", kind, "call", CALL_LANE, payload, run.event_id, run.run_id, index)], []
    if step.publish is not None:
        channel = step.publish.channel
        return [NewDelivery(f"{prefix}:publish", kind, "publish", channel, payload, run.event_id, run.run_id,
                            index, channel=channel)], []
    if step.run is not None:
        return [NewDelivery(f"{prefix}:run", kind, "command", COMMAND_LANE, payload, run.event_id, run.run_id,
                            index)], []
    return [], []
