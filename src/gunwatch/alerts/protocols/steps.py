"""A protocol step turned into outbox deliveries: messages for notify, actions for call / publish / run."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from gunwatch.alerts.commands import substitute
from gunwatch.alerts.links import message_links
from gunwatch.alerts.message import MessageKind
from gunwatch.alerts.outbox.deliveries import CALL_LANE, COMMAND_LANE, NewDelivery
from gunwatch.alerts.protocols.targets import targets
from gunwatch.alerts.texts import make_message
from gunwatch.config.alerts import AlertSettings, CallStep, Step

VERIFY_STEP = -1  # the verification gate's pre-alerts come before step 0


@dataclass(frozen=True)
class RunRef:
    """What every delivery of a run carries: the run, its event (or offline subject) and its context."""

    run_id: int
    event_id: str
    protocol: str
    context: dict[str, Any]


def fill(value: Any, context: dict[str, Any]) -> Any:
    """Placeholders ({camera}, {zone}, {score}, {event_id}) filled in strings, also inside dicts and lists."""
    if isinstance(value, str):
        return substitute(["", value], _text_vars(context))[1]
    if isinstance(value, dict):
        return {key: fill(item, context) for key, item in value.items()}
    if isinstance(value, list):
        return [fill(item, context) for item in value]
    return value


def _text_vars(context: dict[str, Any]) -> dict[str, str]:
    score = context.get("score")
    return {
        "camera": str(context.get("camera") or ""),
        "zone": str(context.get("zone") or ""),
        "score": f"{score:.2f}" if isinstance(score, int | float) else "",
        "event_id": str(context.get("event_id") or ""),
        "site": str(context.get("site") or ""),
    }


def message_deliveries(settings: AlertSettings, run: RunRef, index: int, kind: MessageKind, to: list[str],
                       via: list[str], now: float) -> tuple[list[NewDelivery], list[str]]:
    """One message per (channel, recipient) reached; and notes on recipients who cannot be reached."""
    found, missing = targets(settings, to, via)
    deliveries = []
    for target in found:
        key = f"{run.event_id}:{run.protocol}:{index}:{kind}:{target.channel}:{target.recipient or '-'}"
        links = message_links(settings.links, kind, run.context.get("event_id"), target.recipient, now)
        message = make_message(key, kind, run.context, now, recipient=target.label, step=index, links=links)
        deliveries.append(NewDelivery(key, kind, "message", target.channel, message.to_json(), run.event_id,
                                      run.run_id, index, target.channel, target.recipient, target.address))
    return deliveries, missing


def step_deliveries(settings: AlertSettings, run: RunRef, index: int, step: Step, kind: MessageKind,
                    now: float) -> tuple[list[NewDelivery], list[str]]:
    """The deliveries of a notify, call, publish or run step (a wait_ack step has none)."""
    prefix = f"{run.event_id}:{run.protocol}:{index}"
    context = run.context
    if step.notify is not None:
        return message_deliveries(settings, run, index, kind, step.notify.to, step.notify.via, now)
    if step.call is not None:
        payload = _call_payload(step.call, context, {"protocol": run.protocol, "step": index, "undo": False})
        return [NewDelivery(f"{prefix}:call", kind, "call", CALL_LANE, payload, run.event_id, run.run_id, index)], []
    if step.publish is not None:
        publish = step.publish
        cancel = None if publish.cancel_payload is None else fill(publish.cancel_payload, context)
        payload = {"channel": publish.channel, "topic": fill(publish.topic, context),
                   "payload": fill(publish.payload, context), "retain": publish.retain, "cancel_payload": cancel}
        return [NewDelivery(f"{prefix}:publish", kind, "publish", publish.channel, payload, run.event_id, run.run_id,
                            index, channel=publish.channel)], []
    if step.run is not None:
        argv = substitute(step.run.command, _text_vars(context))
        cancel_argv = None if step.run.cancel_command is None else substitute(step.run.cancel_command,
                                                                              _text_vars(context))
        payload = {"command": argv, "timeout_s": step.run.timeout_s, "cancel_command": cancel_argv}
        return [NewDelivery(f"{prefix}:run", kind, "command", COMMAND_LANE, payload, run.event_id, run.run_id,
                            index)], []
    return [], []


def _call_payload(call: CallStep, context: dict[str, Any], source: dict[str, Any]) -> dict[str, Any]:
    """The call as stored in the outbox. Its secret and headers (an Authorization header, typically) are
    not: `credentials` says which step of the site file holds them, read when the call is made, so no
    credential sits in the database, its backups or `psql`."""
    payload: dict[str, Any] = {
        "url": fill(call.url, context), "method": call.method, "body": fill(call.body, context),
        "timeout_s": call.timeout_s, "credentials": source if (call.secret or call.headers) else None,
    }
    undo = {**source, "undo": True}
    payload["cancel"] = None if call.cancel is None else _call_payload(call.cancel, context, undo)
    return payload
