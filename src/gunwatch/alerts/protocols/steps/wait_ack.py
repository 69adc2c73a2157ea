"""`wait_ack` steps: wait for someone to acknowledge the event. Acknowledged: the run ends here. Not within
`timeout_s`: the steps after it run, as an escalation. It queues nothing, so it has nothing to execute or
undo."""

from __future__ import annotations

from typing import ClassVar

from gunwatch.alerts.protocols.steps.base import Acknowledged, Escalated, Outcome, StepKind, StepRun, Waiting
from gunwatch.config.alerts import WaitAckStep


class WaitAckKind(StepKind[WaitAckStep]):
    key: ClassVar[str] = "wait_ack"

    def start(self, settings: WaitAckStep, at: StepRun) -> Outcome:
        answer = at.acknowledgement()
        if answer is not None:
            # After the acknowledgement in the history, even when this tick read the clock before it.
            return Acknowledged(max(at.now, answer.at), answer.by)
        if at.wake_at is None:
            return Waiting(at.now + settings.timeout_s, settings.timeout_s, started=True)
        if at.now < at.wake_at:
            return Waiting(at.wake_at, settings.timeout_s, started=False)
        return Escalated(f"not acknowledged within {settings.timeout_s:g} s")
