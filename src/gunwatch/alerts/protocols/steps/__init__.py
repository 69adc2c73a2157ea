"""Protocol steps, one module per kind (notify, call, publish, run, wait_ack), each with its typed settings
and what it does when a run reaches it, when the outbox executes it, and when it is called off
(`base.StepKind`); `registry.STEP_KINDS` lists them."""

from gunwatch.alerts.protocols.steps.base import VERIFY_STEP, RunRef, StepRun
from gunwatch.alerts.protocols.steps.notify import message_deliveries
from gunwatch.alerts.protocols.steps.registry import BY_ACTION, STEP_KINDS, kind_of, resolve_action, step_deliveries

__all__ = [
    "BY_ACTION",
    "STEP_KINDS",
    "VERIFY_STEP",
    "RunRef",
    "StepRun",
    "kind_of",
    "message_deliveries",
    "resolve_action",
    "step_deliveries",
]
