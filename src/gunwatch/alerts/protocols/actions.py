"""Protocol actions (call, publish, run) in the outbox, by reference to the site file.

A queued action stores which step it is (the protocol's name, the step's place then, and a digest of the
step's definition) and the facts its placeholders are filled from, never the URL, headers, topic or
command itself. The executor rebuilds the action from the site file it has loaded, when it runs it (each
kind of step in its own module, `alerts.protocols.steps`). So whoever can write to the database can at
most repeat an action the site file defines, with its own target and credentials: not run a command of
their choice, nor send a call's Authorization header elsewhere. A row whose step is gone from the site
file, or whose definition changed since it was queued, is refused (StepMismatch): it was queued for an
action that no longer exists. A step that only moved (steps added or removed before it) is found by its
digest.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from typing import Any

from gunwatch.alerts.commands import substitute
from gunwatch.config.alerts import AlertSettings, Step, StepSettings

_CONTEXT_KEYS = ("camera", "zone", "score", "event_id")
_PAYLOAD_KEYS = {"step", "context", "undo", "has_undo"}
_REF_KEYS = {"protocol", "index", "digest"}
# What gunwatch itself writes in a context: camera and zone names (letters, digits, '_', '-') and event
# ids (hex, or offline-HEX). Anything else in a row came from elsewhere and never reaches a command line.
_SAFE = re.compile(r"^[A-Za-z0-9_-]{1,200}$")


class StepMismatch(ValueError):
    """A stored action that does not match the site file: not executed."""


@dataclass(frozen=True)
class StepFound:
    """A stored reference, checked against the site file: the step it names, how messages name it, the
    placeholders' values, and whether the row asks for the step's undo."""

    step: Step
    where: str
    variables: dict[str, str]
    undo: bool


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
    """A digest of what the step does: its settings' identity (a call's secret and header values left out,
    whether they are set kept) under the step's key."""
    return settings_digest(step.kind, step.payload)


def settings_digest(kind: str, settings: StepSettings) -> str:
    text = json.dumps({kind: settings.identity()}, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()


def action_payload(protocol: str, index: int, digest: str, context: dict[str, Any], has_undo: bool) -> dict[str, Any]:
    """What the outbox stores for a call, publish or run step: the reference (the step's `digest`), the facts,
    and whether it has an undo (a call's `cancel`, a `cancel_payload`, a `cancel_command`) to queue on a
    false alarm."""
    return {"step": {"protocol": protocol, "index": index, "digest": digest},
            "context": {key: context.get(key) for key in _CONTEXT_KEYS}, "undo": False, "has_undo": has_undo}


def undo_payload(payload: dict[str, Any]) -> dict[str, Any] | None:
    """The stored undo of a stored action, or None when it has none."""
    if not payload.get("has_undo") or payload.get("undo"):
        return None
    return {**payload, "undo": True, "has_undo": False}


# --- what is executed -----------------------------------------------------------------------------------

def find_step(settings: AlertSettings, payload: dict[str, Any], kind: str) -> StepFound:
    """The `kind` step a stored row refers to, checked against the site file; StepMismatch when it cannot be."""
    if set(payload) != _PAYLOAD_KEYS or not isinstance(payload["step"], dict) or set(payload["step"]) != _REF_KEYS:
        raise StepMismatch("the stored action is not a step reference gunwatch writes "
                           "(altered in the database, or queued by an older gunwatch)")
    step, where = _find(settings, payload["step"])
    if step.kind != kind:
        raise StepMismatch(f"{where} is not a {kind} step")
    variables = text_vars(_checked_context(payload["context"]), settings.site_name)
    return StepFound(step, where, variables, payload["undo"] is True)


def _find(settings: AlertSettings, ref: dict[str, Any]) -> tuple[Step, str]:
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
