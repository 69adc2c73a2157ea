"""A wait_ack step's decision, from the event's acknowledgement, the deadline it set and the time."""

from __future__ import annotations

import pytest

from gunwatch.alerts.protocols.steps.base import (
    Acknowledged,
    Acknowledgement,
    Escalated,
    Outcome,
    RunRef,
    StepRun,
    Waiting,
)
from gunwatch.alerts.protocols.steps.wait_ack import WaitAckKind
from gunwatch.config.alerts import AlertSettings, WaitAckStep

WAIT = WaitAckStep(timeout_s=30)
RUN = RunRef(1, "0123abcd", "lockdown", {})


@pytest.mark.parametrize(("answer", "wake_at", "now", "outcome"), [
    (None, None, 100.0, Waiting(130.0, 30, started=True)),  # the wait begins
    (None, 130.0, 129.9, Waiting(130.0, 30, started=False)),  # still waiting: nothing to record
    (None, 130.0, 130.0, Escalated("not acknowledged within 30 s")),
    (Acknowledgement(120.0, "guard:alice"), 130.0, 125.0, Acknowledged(125.0, "guard:alice")),
    # Acknowledged after this tick read the clock: the run ends after the acknowledgement, not before it.
    (Acknowledgement(126.0, "guard:alice"), 130.0, 125.0, Acknowledged(126.0, "guard:alice")),
    # Acknowledged before the wait even began, or after its deadline but before the tick saw it.
    (Acknowledgement(90.0, "cli:dana"), None, 100.0, Acknowledged(100.0, "cli:dana")),
    (Acknowledgement(131.0, "cli:dana"), 130.0, 132.0, Acknowledged(132.0, "cli:dana")),
])
def test_wait_ack_decides(answer: Acknowledgement | None, wake_at: float | None, now: float,
                          outcome: Outcome) -> None:
    at = StepRun(AlertSettings(), RUN, 2, "alert", now, wake_at, lambda: answer)
    assert WaitAckKind().start(WAIT, at) == outcome
