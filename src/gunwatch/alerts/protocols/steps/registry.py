"""Every kind of protocol step, by its key in the site file: a new kind is one module and one line here (and
its settings model under `Step` in `config.alerts`)."""

from __future__ import annotations

from typing import Any

from gunwatch.alerts.message import MessageKind
from gunwatch.alerts.outbox.deliveries import NewDelivery
from gunwatch.alerts.protocols.actions import StepMismatch
from gunwatch.alerts.protocols.steps.base import ActionKind, Queued, RunRef, StepKind, StepRun
from gunwatch.alerts.protocols.steps.call import Call, CallKind
from gunwatch.alerts.protocols.steps.notify import NotifyKind
from gunwatch.alerts.protocols.steps.publish import Publish, PublishKind
from gunwatch.alerts.protocols.steps.run import Command, RunKind
from gunwatch.alerts.protocols.steps.wait_ack import WaitAckKind
from gunwatch.config.alerts import AlertSettings, Step

STEP_KINDS: dict[str, StepKind[Any]] = {
    "notify": NotifyKind(),
    "call": CallKind(),
    "publish": PublishKind(),
    "run": RunKind(),
    "wait_ack": WaitAckKind(),
}
# The kind whose deliveries an outbox row's `action` names ("message", "call", "publish", "command").
BY_ACTION: dict[str, StepKind[Any]] = {kind.action: kind for kind in STEP_KINDS.values() if kind.action is not None}

Action = Call | Publish | Command


def kind_of(step: Step) -> StepKind[Any]:
    return STEP_KINDS[step.kind]


def step_deliveries(settings: AlertSettings, run: RunRef, index: int, step: Step, kind: MessageKind,
                    now: float) -> tuple[list[NewDelivery], list[str]]:
    """What starting a step queues, and notes on recipients it cannot reach (a wait_ack step: nothing)."""
    outcome = kind_of(step).start(step.payload, StepRun(settings, run, index, kind, now))
    return (outcome.deliveries, outcome.unreachable) if isinstance(outcome, Queued) else ([], [])


def resolve_action(settings: AlertSettings, action: str, payload: dict[str, Any]) -> Action:
    """The action a stored row stands for, rebuilt from the site file; StepMismatch when it cannot be."""
    kind = BY_ACTION.get(action)
    if not isinstance(kind, ActionKind):
        raise StepMismatch(f"{action!r} is not a protocol action")
    return kind.resolve(settings, payload)  # type: ignore[no-any-return]
