"""What the outbox holds: deliveries to make, and their state."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

DeliveryStatus = Literal["pending", "sending", "delivered", "failed", "cancelled"]
DeliveryAction = Literal["message", "call", "publish", "command"]
# Lanes of the actions that are not a channel's: each is served by a worker of its own.
CALL_LANE, COMMAND_LANE = "@calls", "@commands"


@dataclass(frozen=True)
class NewDelivery:
    """A delivery to store. `payload` is an AlertMessage's JSON for messages, the step's settings for
    actions. `key` decides identity: a second delivery with the same key is the same one."""

    key: str
    kind: str
    action: DeliveryAction
    lane: str
    payload: dict[str, Any]
    event_id: str | None = None
    run_id: int | None = None
    step: int | None = None
    channel: str | None = None
    recipient: str | None = None
    address: str | None = None
    not_before: float | None = None  # first attempt not before this (rate limits); default now


@dataclass(frozen=True)
class Delivery:
    id: int
    key: str
    kind: str
    action: DeliveryAction
    lane: str
    payload: dict[str, Any]
    event_id: str | None
    run_id: int | None
    step: int | None
    channel: str | None
    recipient: str | None
    address: str | None
    status: DeliveryStatus
    attempts: int
    next_attempt_at: float
    last_error: str | None
    created_at: float
    first_attempt_at: float | None
    delivered_at: float | None
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def may_have_reached(self) -> bool:
        """Delivered, or attempted at least once: a timed-out attempt may still have arrived, so a cancel
        goes to it too. Only a delivery never attempted is known not to have reached anyone."""
        return self.status == "delivered" or self.attempts > 0
