"""`call` steps: an HTTP request to an access-control system, door locks... Undone by its `cancel` call."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

from gunwatch.alerts.channels.webhook import call_endpoint
from gunwatch.alerts.outbox.deliveries import CALL_LANE, Delivery, DeliveryAction
from gunwatch.alerts.protocols.actions import StepFound, StepMismatch, fill
from gunwatch.alerts.protocols.steps.base import ActionKind, Tools
from gunwatch.config.alerts import CallStep


@dataclass(frozen=True)
class Call:
    url: str
    method: str
    body: Any
    headers: dict[str, str]
    secret: str | None
    timeout_s: float


class CallKind(ActionKind[CallStep, Call]):
    key: ClassVar[str] = "call"
    action: ClassVar[DeliveryAction] = "call"
    lane: ClassVar[str | None] = CALL_LANE

    def has_undo(self, settings: CallStep) -> bool:
        return settings.cancel is not None

    def build(self, settings: CallStep, found: StepFound) -> Call:
        call = settings.cancel if found.undo else settings
        if call is None:
            raise StepMismatch(f"{found.where} has no cancel call")
        variables = found.variables
        return Call(fill(call.url, variables), call.method, fill(call.body, variables), dict(call.headers),
                    call.secret, call.timeout_s)

    def perform(self, action: Call, delivery: Delivery, tools: Tools) -> None:
        call_endpoint(action.url, action.method, action.body, action.headers, action.timeout_s,
                      secret=action.secret, label=f"call step {delivery.key}", client=tools.http())
