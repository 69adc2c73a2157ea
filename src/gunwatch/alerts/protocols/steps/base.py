"""What every kind of protocol step is: its settings from the site file (a typed model in `config.alerts`),
and three things it does.

- `start`: what the step does when a run reaches it, inside the run's transaction. Most queue outbox
  deliveries (`Queued`), to be performed later and retried there; a step may instead wait (`Waiting`),
  end the run (`Acknowledged`) or let it go on as an escalation (`Escalated`).
- `execute`: performs one of the step's queued deliveries, on an outbox worker.
- `undo`: what a false alarm or an all-clear queues for a delivery of the step that may have happened:
  a cancel for a message, the undo call / payload / command of an action; None when there is nothing.

What is stored holds no credential and no signed link: a message's action links are minted when it is sent
on a per-person channel (`alerts.outbox.executor`), and an action is stored as a reference to its step in
the site file (`alerts.protocols.actions`).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, ClassVar, Generic, Protocol, TypeVar

import httpx

from gunwatch.alerts.channels.base import Channel, DeliveryError
from gunwatch.alerts.message import AlertMessage, MessageKind
from gunwatch.alerts.outbox.deliveries import Delivery, DeliveryAction, NewDelivery
from gunwatch.alerts.protocols.actions import (
    StepFound,
    StepMismatch,
    action_payload,
    find_step,
    settings_digest,
    undo_payload,
)
from gunwatch.config.alerts import AlertSettings, Step, StepSettings

VERIFY_STEP = -1  # the verification gate's pre-alerts come before step 0

S = TypeVar("S", bound=StepSettings)  # a kind's settings in the site file
A = TypeVar("A")  # what an action kind performs, rebuilt from the site file


@dataclass(frozen=True)
class RunRef:
    """What every delivery of a run carries: the run, its event (or offline subject) and its context."""

    run_id: int
    event_id: str
    protocol: str
    context: dict[str, Any]


@dataclass(frozen=True)
class Acknowledgement:
    at: float
    by: str


@dataclass(frozen=True)
class StepRun:
    """A run at one of its steps. `wake_at`: the deadline the step set when it began to wait (None: it has
    not); `acknowledgement`: the event's, read only by a step that asks (a database read)."""

    settings: AlertSettings
    run: RunRef
    index: int
    message_kind: MessageKind  # what its messages are: an alert, an escalation, a camera offline
    now: float
    wake_at: float | None = None
    acknowledgement: Callable[[], Acknowledgement | None] = lambda: None

    @property
    def prefix(self) -> str:
        """The start of the step's delivery keys: one run, one step."""
        return f"{self.run.event_id}:{self.run.protocol}:{self.index}"


# --- what starting a step came to (the engine records it) --------------------------------------------------

@dataclass(frozen=True)
class Queued:
    """Done: these deliveries go into the outbox; `unreachable` notes recipients it could not reach."""

    deliveries: list[NewDelivery]
    unreachable: list[str]


@dataclass(frozen=True)
class Waiting:
    """The run waits at this step until `until`, or an answer. `started`: the wait begins now."""

    until: float
    timeout_s: float
    started: bool


@dataclass(frozen=True)
class Acknowledged:
    """Someone acknowledged the event: the run ends here, the steps after this one never run."""

    at: float
    by: str


@dataclass(frozen=True)
class Escalated:
    """Nobody answered in time: the steps after this one run, as an escalation."""

    reason: str


Outcome = Queued | Waiting | Acknowledged | Escalated


class Tools(Protocol):
    """What performing a delivery may use: the outbox executor's channels and HTTP connections."""

    settings: AlertSettings | None  # the site's alerts section (None: actions are refused)

    def channel(self, name: str | None) -> Channel: ...

    def http(self) -> httpx.Client: ...

    def message(self, delivery: Delivery, channel: Channel) -> AlertMessage: ...


class StepKind(ABC, Generic[S]):
    """One kind of step. `key` is its key in the site file; `action` names its deliveries in the outbox
    (None: it queues none)."""

    key: ClassVar[str]
    action: ClassVar[DeliveryAction | None] = None

    @abstractmethod
    def start(self, settings: S, at: StepRun) -> Outcome: ...

    def execute(self, delivery: Delivery, tools: Tools) -> None:
        raise DeliveryError(f"a {self.key} step queues nothing to deliver", retryable=False)

    def undo(self, delivery: Delivery, kind: MessageKind, extra: dict[str, Any], now: float) -> NewDelivery | None:
        """What a false alarm (`kind` cancel) or an all-clear queues for `delivery`; None: nothing."""
        return None


class ActionKind(StepKind[S], Generic[S, A]):
    """A step that does one thing through the outbox (an HTTP call, an MQTT publish, a command) and may have
    an undo. It is stored by reference and rebuilt from the site file when it is executed: nothing a row
    says decides what runs or where a credential goes."""

    action: ClassVar[DeliveryAction]
    lane: ClassVar[str | None] = None  # a worker of its own (None: the lane of its channel)

    @abstractmethod
    def has_undo(self, settings: S) -> bool: ...

    @abstractmethod
    def build(self, settings: S, found: StepFound) -> A:
        """The action (or with `found.undo`, its undo) with its placeholders filled; StepMismatch when the
        step has no undo."""

    @abstractmethod
    def perform(self, action: A, delivery: Delivery, tools: Tools) -> None:
        """Returns when done; raises DeliveryError otherwise."""

    def channel(self, settings: S) -> str | None:
        return None

    def start(self, settings: S, at: StepRun) -> Outcome:
        digest = settings_digest(self.key, settings)
        payload = action_payload(at.run.protocol, at.index, digest, at.run.context, self.has_undo(settings))
        channel = self.channel(settings)
        lane = self.lane or channel
        assert lane is not None, f"a {self.key} step needs a lane or a channel"
        delivery = NewDelivery(f"{at.prefix}:{self.key}", at.message_kind, self.action, lane, payload,
                               at.run.event_id, at.run.run_id, at.index, channel=channel)
        return Queued([delivery], [])

    def resolve(self, settings: AlertSettings, payload: dict[str, Any]) -> A:
        """The action a stored row stands for, rebuilt from the site file; StepMismatch when it cannot be."""
        found = find_step(settings, payload, self.key)
        return self.build(self.settings_of(found.step), found)

    def settings_of(self, step: Step) -> S:
        settings = getattr(step, self.key)
        assert settings is not None
        return settings  # type: ignore[no-any-return]

    def execute(self, delivery: Delivery, tools: Tools) -> None:
        if tools.settings is None:
            raise DeliveryError("no site file loaded to rebuild the action from", retryable=False)
        try:
            action = self.resolve(tools.settings, delivery.payload)
        except StepMismatch as mismatch:
            raise DeliveryError(f"refused: {mismatch}", retryable=False) from None
        self.perform(action, delivery, tools)

    def undo(self, delivery: Delivery, kind: MessageKind, extra: dict[str, Any], now: float) -> NewDelivery | None:
        """The undo by the same reference to the step, when the step has one."""
        payload = undo_payload(delivery.payload)
        if payload is None:
            return None
        return NewDelivery(f"{delivery.key}:{kind}", kind, self.action, self.lane or delivery.lane, payload,
                           delivery.event_id, delivery.run_id, delivery.step, delivery.channel)
