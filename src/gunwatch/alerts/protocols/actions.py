"""Protocol actions (call, publish, run) in the outbox, by reference to the site file.

A queued action stores which step it is (the protocol's name, the step's place then, and a digest of the
step's definition) and the facts its placeholders are filled from, never the URL, headers, topic or
command itself. The executor rebuilds the action from the site file it has loaded, when it runs it. So
whoever can write to the database can at most repeat an action the site file defines, with its own
target and credentials: not run a command of their choice, nor send a call's Authorization header
elsewhere. A row whose step is gone from the site file, or whose definition changed since it was queued,
is refused (StepMismatch): it was queued for an action that no longer exists. A step that only moved
(steps added or removed before it) is found by its digest.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from typing import Any

from gunwatch.alerts.commands import substitute
from gunwatch.config.alerts import AlertSettings, CallStep, Step

ACTION_STEPS = {"call": "call", "publish": "publish", "command": "run"}  # delivery action -> step key
_CONTEXT_KEYS = ("camera", "zone", "score", "event_id")
_PAYLOAD_KEYS = {"step", "context", "undo", "has_undo"}
_REF_KEYS = {"protocol", "index", "digest"}
# What gunwatch itself writes in a context: camera and zone names (letters, digits, '_', '-') and event
# ids (hex, or offline-HEX). Anything else in a row came from elsewhere and never reaches a command line.
_SAFE = re.compile(r"^[A-Za-z0-9_-]{1,200}$")


class StepMismatch(ValueError):
    """A stored action that does not match the site file: not executed."""


@dataclass(frozen=True)
class Call:
    url: str
    method: str
    body: Any
    headers: dict[str, str]
    secret: str | None
    timeout_s: float


@dataclass(frozen=True)
class Publish:
    channel: str
    topic: str
    payload: Any
    retain: bool


@dataclass(frozen=True)
class Command:
    """`argv` as the step writes it: `run_command` fills its placeholders and gives the command the event as
    GUNWATCH_* variables from `text_vars`, and the variables named in `pass_env`."""

    argv: list[str]
    timeout_s: float
    text_vars: dict[str, str]
    pass_env: list[str]


Action = Call | Publish | Command


# --- placeholders ---------------------------------------------------------------------------------------

def text_vars(context: dict[str, Any], site: str = "") -> dict[str, str]:
    score = context.get("score")
    return {
        "camera": str(context.get("camera") or ""),
        "zone": str(context.get("zone") or ""),
        "score": f"{score:.2f}" if isinstance(score, int | float) else "",
        "event_id": str(context.get("event_id") or ""),
        "site": site or str(context.get("site") or ""),
    }


def fill(value: Any, variables: dict[str, str]) -> Any:
    """Placeholders ({camera}, {zone}, {score}, {event_id}, {site}) filled in strings, also inside dicts and
    lists."""
    if isinstance(value, str):
        return substitute(["", value], variables)[1]
    if isinstance(value, dict):
        return {key: fill(item, variables) for key, item in value.items()}
    if isinstance(value, list):
        return [fill(item, variables) for item in value]
    return value


# --- what is stored ---------------------------------------------------------------------------------------

def step_digest(step: Step) -> str:
    """A digest of what the step does. Secrets and header values are left out (rotating a token is no new
    step, and the digest must not help guess a weak one); whether they are set is kept."""
    definition = step.model_dump(mode="json", by_alias=True, exclude_defaults=True)
    if step.call is not None:
        definition["call"] = _call_definition(step.call)
    text = json.dumps(definition, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()


def _call_definition(call: CallStep) -> dict[str, Any]:
    definition = call.model_dump(mode="json", exclude_defaults=True, exclude={"secret", "headers", "cancel"})
    definition["signed"] = call.secret is not None
    definition["headers"] = sorted(call.headers)
    if call.cancel is not None:
        definition["cancel"] = _call_definition(call.cancel)
    return definition


def action_payload(protocol: str, index: int, step: Step, context: dict[str, Any]) -> dict[str, Any]:
    """What the outbox stores for a call, publish or run step: the reference, the facts, and whether it has
    an undo (a call's `cancel`, a `cancel_payload`, a `cancel_command`) to queue on a false alarm."""
    has_undo = ((step.call is not None and step.call.cancel is not None)
                or (step.publish is not None and step.publish.cancel_payload is not None)
                or (step.run is not None and step.run.cancel_command is not None))
    return {"step": {"protocol": protocol, "index": index, "digest": step_digest(step)},
            "context": {key: context.get(key) for key in _CONTEXT_KEYS}, "undo": False, "has_undo": has_undo}


def undo_payload(payload: dict[str, Any]) -> dict[str, Any] | None:
    """The stored undo of a stored action, or None when it has none."""
    if not payload.get("has_undo") or payload.get("undo"):
        return None
    return {**payload, "undo": True, "has_undo": False}


# --- what is executed -----------------------------------------------------------------------------------

def resolve_action(settings: AlertSettings, action: str, payload: dict[str, Any]) -> Action:
    """The action a stored row stands for, rebuilt from the site file; StepMismatch when it cannot be."""
    kind = ACTION_STEPS.get(action)
    if kind is None:
        raise StepMismatch(f"{action!r} is not a protocol action")
    if set(payload) != _PAYLOAD_KEYS or not isinstance(payload["step"], dict) or set(payload["step"]) != _REF_KEYS:
        raise StepMismatch("the stored action is not a step reference gunwatch writes "
                           "(altered in the database, or queued by an older gunwatch)")
    step, where = _find_step(settings, payload["step"])
    if getattr(step, kind) is None:
        raise StepMismatch(f"{where} is not a {kind} step")
    variables = text_vars(_checked_context(payload["context"]), settings.site_name)
    undo = payload["undo"] is True
    if step.call is not None:
        call = step.call.cancel if undo else step.call
        if call is None:
            raise StepMismatch(f"{where} has no cancel call")
        return Call(fill(call.url, variables), call.method, fill(call.body, variables), dict(call.headers),
                    call.secret, call.timeout_s)
    if step.publish is not None:
        publish = step.publish
        data = publish.cancel_payload if undo else publish.payload
        if data is None:
            raise StepMismatch(f"{where} has no cancel_payload")
        return Publish(publish.channel, fill(publish.topic, variables), fill(data, variables), publish.retain)
    assert step.run is not None
    argv = step.run.cancel_command if undo else step.run.command
    if argv is None:
        raise StepMismatch(f"{where} has no cancel_command")
    return Command(list(argv), step.run.timeout_s, variables, list(step.run.env))


def _find_step(settings: AlertSettings, ref: dict[str, Any]) -> tuple[Step, str]:
    name, index, digest = ref["protocol"], ref["index"], ref["digest"]
    protocol = settings.protocols.get(name) if isinstance(name, str) else None
    if protocol is None:
        raise StepMismatch(f"the site file has no protocol {name!r} any more")
    where = f"step {index} of protocol {name!r}"
    steps = protocol.steps
    if isinstance(index, int) and 0 <= index < len(steps) and step_digest(steps[index]) == digest:
        return steps[index], where
    moved = [i for i, step in enumerate(steps) if step_digest(step) == digest]
    if moved:
        return steps[moved[0]], f"step {moved[0]} of protocol {name!r} (step {index} when queued)"
    raise StepMismatch(f"{where} is not in the site file as it was when the action was queued "
                       "(removed or changed since): not run")


def _checked_context(context: Any) -> dict[str, Any]:
    if not isinstance(context, dict) or set(context) != set(_CONTEXT_KEYS):
        raise StepMismatch("the stored action's context is not one gunwatch writes")
    for key in ("camera", "zone", "event_id"):
        value = context[key]
        if value is not None and not (isinstance(value, str) and _SAFE.match(value)):
            raise StepMismatch(f"the stored action's {key} {str(value)[:80]!r} is not one gunwatch writes")
    score = context["score"]
    if score is not None and (isinstance(score, bool) or not isinstance(score, int | float)):
        raise StepMismatch("the stored action's score is not a number")
    return context
