"""`run` steps: a local command (no shell), e.g. a spoken announcement. Undone by its `cancel_command`.

How a command runs (its minimal environment, its process group, its timeout) is `alerts.commands`'."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from gunwatch.alerts.commands import run_command
from gunwatch.alerts.outbox.deliveries import COMMAND_LANE, Delivery, DeliveryAction
from gunwatch.alerts.protocols.actions import StepFound, StepMismatch
from gunwatch.alerts.protocols.steps.base import ActionKind, Tools
from gunwatch.config.alerts import RunStep


@dataclass(frozen=True)
class Command:
    """`argv` as the step writes it: `run_command` fills its placeholders and gives the command the event as
    GUNWATCH_* variables from `text_vars`, and the variables named in `pass_env`."""

    argv: list[str]
    timeout_s: float
    text_vars: dict[str, str]
    pass_env: list[str]


class RunKind(ActionKind[RunStep, Command]):
    key: ClassVar[str] = "run"
    action: ClassVar[DeliveryAction] = "command"
    lane: ClassVar[str | None] = COMMAND_LANE

    def has_undo(self, settings: RunStep) -> bool:
        return settings.cancel_command is not None

    def build(self, settings: RunStep, found: StepFound) -> Command:
        argv = settings.cancel_command if found.undo else settings.command
        if argv is None:
            raise StepMismatch(f"{found.where} has no cancel_command")
        return Command(list(argv), settings.timeout_s, found.variables, list(settings.env))

    def perform(self, action: Command, delivery: Delivery, tools: Tools) -> None:
        run_command(action.argv, action.timeout_s, text_vars=action.text_vars, pass_env=action.pass_env)
