"""Channel health from the deliveries table, beside camera health: a channel that is down shows here (its
failures, its last error, how long its oldest alert has waited), not only as warnings in a log.

Read from the store alone, so `gunwatch serve` on another machine shows it as well as `gunwatch watch`.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Literal

from sqlalchemy import case, func, select

from gunwatch.events.store import EventStore
from gunwatch.events.store.schema import DeliveryRow
from gunwatch.users.principal import Principal

ChannelState = Literal["ok", "failing", "idle"]
WINDOW_S = 3600.0
WAITING = ("pending", "sending")


@dataclass(frozen=True)
class ChannelHealth:
    """One channel (or action lane: `@calls`, `@commands`). Counts are over the window, except `pending`,
    which counts everything still waiting however old."""

    channel: str
    state: ChannelState  # failing: its latest outcome is an error; idle: nothing sent in the window
    delivered: int
    failed: int  # given up in the window
    pending: int
    last_delivered_at: float | None
    last_error_at: float | None  # the latest failed attempt (given up, or waiting to retry)
    last_error: str | None
    oldest_pending_age_s: float | None
    window_s: float


class ChannelService:
    def __init__(self, store: EventStore, configured: Iterable[str] = ()):
        """`configured`: the site file's channel names, shown (idle) before they ever sent anything."""
        self.store, self.configured = store, tuple(configured)

    def list(self, principal: Principal, window_s: float = WINDOW_S, now: float | None = None) -> list[ChannelHealth]:
        """Every channel by name. Counts span all cameras: a channel's health is the site's, not an event's."""
        principal.require("events:read")
        now = time.time() if now is None else now
        since = now - window_s
        name = func.coalesce(DeliveryRow.channel, DeliveryRow.lane)
        counts = select(
            name,
            func.sum(case((DeliveryRow.delivered_at >= since, 1), else_=0)),
            func.sum(case(((DeliveryRow.status == "failed") & (DeliveryRow.updated_at >= since), 1), else_=0)),
            func.sum(case((DeliveryRow.status.in_(WAITING), 1), else_=0)),
            func.max(DeliveryRow.delivered_at),
        ).group_by(name)
        oldest = select(name, func.min(DeliveryRow.created_at)).where(DeliveryRow.status.in_(WAITING)).group_by(name)
        with self.store.errors("cannot read"), self.store.read_session() as session:
            rows = {row[0]: row for row in session.execute(counts)}
            waiting_since = {channel: at for channel, at in session.execute(oldest)}
            errors = _last_errors(session, name)
        names = sorted(set(rows) | set(self.configured))
        return [_health(channel, rows.get(channel), waiting_since.get(channel), errors.get(channel), now, window_s)
                for channel in names]


def _last_errors(session: Any, name: Any) -> dict[str, tuple[float, str]]:
    """Each channel's latest failed attempt: the row with an error updated last (a delivered row has none)."""
    latest = (select(name.label("channel"), func.max(DeliveryRow.updated_at).label("at"))
              .where(DeliveryRow.last_error.is_not(None)).group_by(name).subquery())
    query = (select(latest.c.channel, DeliveryRow.updated_at, DeliveryRow.last_error)
             .join(latest, (name == latest.c.channel) & (DeliveryRow.updated_at == latest.c.at))
             .where(DeliveryRow.last_error.is_not(None)).order_by(DeliveryRow.id))
    return {channel: (at, error) for channel, at, error in session.execute(query)}


def _health(channel: str, counts: Any, waiting_since: float | None, error: tuple[float, str] | None, now: float,
            window_s: float) -> ChannelHealth:
    delivered, failed, pending, last_delivered = (0, 0, 0, None) if counts is None else (
        int(counts[1] or 0), int(counts[2] or 0), int(counts[3] or 0), counts[4])
    error_at, error_text = (None, None) if error is None else error
    if error_at is not None and (last_delivered is None or error_at > last_delivered):
        state: ChannelState = "failing"
    elif (last_delivered is not None and last_delivered >= now - window_s) or pending:
        state = "ok"
    else:
        state = "idle"
    return ChannelHealth(channel, state, delivered, failed, pending, last_delivered, error_at, error_text,
                         None if waiting_since is None else max(0.0, now - waiting_since), window_s)
