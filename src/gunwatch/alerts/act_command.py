"""`gunwatch event ack|confirm|false-alarm|resolve`: record what someone said, and make sure the cancel
goes out.

The cancels and all-clears are queued in the store in the same transaction as the disposition, so the
running `gunwatch watch` delivers them. This command does not rely on that: with the site file at hand
it delivers them itself (the claim on each delivery keeps the two from sending one twice) and waits up to
`wait_s` to report what reached whom. Nobody is left acting on a cancelled alert because a service was
down.
"""

from __future__ import annotations

import getpass
import time

from gunwatch.alerts.channels.registry import open_channels
from gunwatch.alerts.event_actions import ActionResult, EventActions
from gunwatch.alerts.outbox import Delivery, Outbox
from gunwatch.alerts.outbox.dispatcher import Dispatcher
from gunwatch.alerts.outbox.executor import DeliveryExecutor
from gunwatch.config.site import SiteConfig
from gunwatch.events.store import EventStore

SETTLED = ("delivered", "failed", "cancelled")


def default_actor() -> str:
    try:
        return f"cli:{getpass.getuser()}"
    except (KeyError, OSError):  # no user name in a container
        return "cli"


def act(store: EventStore, event_id: str, action: str, actor: str, note: str | None) -> ActionResult:
    return EventActions(store).perform(action, event_id, actor, note)


def deliver_withdrawals(store: EventStore, site: SiteConfig, keys: list[str], wait_s: float) -> list[Delivery]:
    """Deliver the queued cancels now, waiting up to `wait_s` for each to settle; their final state."""
    outbox = Outbox(store)
    pending = [d for key in keys if (d := outbox.get(key)) is not None]
    lanes = sorted({d.lane for d in pending})
    if not lanes or wait_s <= 0:
        return pending
    executor = DeliveryExecutor(open_channels({name: site.alerts.channels[name] for name in
                                               site.alerts.channels if name in lanes}), site.alerts)
    dispatcher = Dispatcher(outbox, executor, poll_s=0.2, keys=set(keys)).start(lanes)
    try:
        deadline = time.monotonic() + wait_s
        while time.monotonic() < deadline:
            current = [outbox.get(key) for key in keys]
            if all(d is None or d.status in SETTLED for d in current):
                break
            time.sleep(0.1)
    finally:
        dispatcher.stop()
        executor.close()
    return [d for key in keys if (d := outbox.get(key)) is not None]


def withdrawal_lines(deliveries: list[Delivery]) -> list[str]:
    lines = []
    for d in deliveries:
        target = d.recipient or "-"
        where = d.channel or d.action
        error = f" ({d.last_error})" if d.last_error and d.status != "delivered" else ""
        lines.append(f"  {d.kind} {d.action} via {where} to {target}: {d.status}{error}")
    return lines
