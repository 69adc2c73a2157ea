"""The protocol engine: starts a run for each event a protocol's trigger matches, and moves it on.

A run's state lives in the store (`protocol_runs`), and each move is one transaction holding the run's
new state, the deliveries of the steps it ran and their audit entries: after a crash a run resumes where
its last transaction left it, and no step is queued twice (delivery keys are per run and step).
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Callable
from typing import Any

from sqlalchemy import and_, or_, select
from sqlalchemy.orm import Session

from gunwatch.alerts import audit
from gunwatch.alerts.event_actions import FINAL
from gunwatch.alerts.locks import lock_event
from gunwatch.alerts.message import MessageKind
from gunwatch.alerts.outbox import Outbox
from gunwatch.alerts.protocols.matching import disk_low_matches, offline_matches, threat_matches
from gunwatch.alerts.protocols.steps.base import (
    VERIFY_STEP,
    Acknowledged,
    Acknowledgement,
    Escalated,
    RunRef,
    StepRun,
    Waiting,
)
from gunwatch.alerts.protocols.steps.notify import message_deliveries
from gunwatch.alerts.protocols.steps.registry import kind_of
from gunwatch.config.alerts import AlertSettings, Protocol
from gunwatch.events.evidence import picture_to_send
from gunwatch.events.model import ThreatEvent
from gunwatch.events.store import EventStore
from gunwatch.events.store.schema import DispositionRow, ProtocolRunRow

log = logging.getLogger(__name__)

ACTIVE_STATES = ("verifying", "running", "waiting_ack")
# A merged run waits on the run it merged into: if that one is called a false alarm, this event was never
# alerted on, so its own run starts then. Looked at for this long after it merged.
MERGE_WATCH_S = 3600.0
# A closed event the alerts hear of only now starts its protocols late; one whose gun was last seen longer ago
# than this (a store restored from a backup, a watch restarted after months with protocols added meanwhile)
# does not: sirens and door locks for a gun gone an hour help nobody. Its audit log says why.
LATE_ALERT_WITHIN_S = 3600.0


def offline_subject() -> str:
    """The id a camera-offline incident goes by where an event id would (deliveries, audit, actions)."""
    return f"offline-{uuid.uuid4().hex[:24]}"


class ProtocolEngine:
    def __init__(self, settings: AlertSettings, store: EventStore, outbox: Outbox,
                 wake: Callable[[], None] = lambda: None):
        self.settings, self.store, self.outbox, self.wake = settings, store, outbox, wake
        self._started: set[tuple[str, str]] = set()  # (protocol, event id) already handled in this process
        # Runs under way when the settings were swapped (a reload) go on by the settings they started with.
        self._pinned: dict[int, AlertSettings] = {}
        # Cameras heard offline and not back yet (since when, the latest reason), for the protocols that wait
        # until a camera has been blind for a while (`offline_for_s`); and which of those started this spell.
        self._blind: dict[str, tuple[float, str]] = {}
        self._blind_started: set[tuple[str, str]] = set()  # (protocol, camera)

    def swap(self, settings: AlertSettings) -> None:
        """New settings (a reload of the site file) for runs that start from now on; the runs under way keep
        theirs. Call it on the thread that calls `on_event` and `tick`."""
        with self.store.errors("cannot read protocols in"), self.store.read_session() as session:
            under_way = session.scalars(select(ProtocolRunRow.id).where(self._waiting(time.time()))).all()
        for run_id in under_way:
            self._pinned.setdefault(run_id, self.settings)
        self.settings = settings

    # --- starting runs -------------------------------------------------------------------------------

    def on_event(self, event: ThreatEvent, now: float | None = None) -> list[int]:
        """Start every protocol whose trigger the event matches (an update can match a score threshold
        the opening frame did not reach); returns the new runs' ids. A closed event starts those that did not
        run for it while it was open: the alerts never heard of it then (its node died or was cut off from the
        cluster, or the watch crashed, before handing it over), and a late alert, saying it is late, beats none.
        A protocol that ran for it (merged or called off included) never starts again."""
        now = time.time() if now is None else now
        started = []
        failed: Exception | None = None
        for name, protocol in self.settings.protocols.items():
            if (name, event.id) in self._started or not threat_matches(protocol.trigger, event):
                continue
            try:
                run_id = self._start_for_event(name, protocol, event, now)
            except Exception as error:  # the other protocols still start; the caller tries this one again
                log.error("protocol %s: cannot start for event %s of camera %s: %s", name, event.id, event.camera,
                          error, extra={"camera": event.camera, "event": event.id, "protocol": name})
                failed = failed or error
                continue
            if run_id is not None:
                started.append(run_id)
        if failed is not None:
            raise failed
        return started

    def _start_for_event(self, name: str, protocol: Protocol, event: ThreatEvent, now: float) -> int | None:
        context = self._context(name, event_id=event.id, camera=event.camera, zone=event.zone,
                                score=event.max_score, first_seen=event.first_seen,
                                confirmed_at=event.confirmed_at, snapshot=picture_to_send(event.evidence))
        refuse = None
        if event.state == "closed":  # heard of only once over (`on_event`): its messages say so
            context.update(late=True, last_seen=event.last_seen, closed_at=event.closed_at)
            if now - event.last_seen > LATE_ALERT_WITHIN_S:
                refuse = (f"heard of only after it closed, its gun last seen {(now - event.last_seen) / 60:.0f} min "
                          f"ago: too old for a late alert (over {LATE_ALERT_WITHIN_S / 60:.0f} min)")
        run_id = self._start(name, protocol, event.id, "threat", event.camera, context, now, refuse)
        self._started.add((name, event.id))  # after the commit: a failed start is tried again
        return run_id

    def on_camera_offline(self, camera: str, reason: str, at: float | None = None) -> list[int]:
        """A camera stopped delivering video: the protocols that do not wait start now (every report: a repeat
        within a protocol's cool-down merges into its run); those with `offline_for_s` start from `tick` once
        the camera has been offline that long since its first report, unless it comes back first."""
        now = time.time() if at is None else at
        self._blind[camera] = (self._blind.get(camera, (now, reason))[0], reason)
        started = []
        for name, protocol in self.settings.protocols.items():
            if protocol.trigger.offline_for_s > 0 or not offline_matches(protocol.trigger, camera, now):
                continue
            run_id = self._start_offline(name, protocol, camera, reason, now)
            if run_id is not None:
                started.append(run_id)
        return started

    def on_camera_online(self, camera: str, at: float | None = None) -> list[str]:
        """A camera back: the protocols still waiting for it to stay offline never start for this spell.
        Returns their names (logged: the spell is in the camera's health history, and nobody was told)."""
        now = time.time() if at is None else at
        if camera not in self._blind:
            return []  # online from the start, or again: no spell to end
        since, _ = self._blind.pop(camera)
        spared = [name for name, protocol in self.settings.protocols.items()
                  if protocol.trigger.offline_for_s > 0 and (name, camera) not in self._blind_started
                  and offline_matches(protocol.trigger, camera, now)]
        self._blind_started = {key for key in self._blind_started if key[1] != camera}
        for name in spared:
            wait = self.settings.protocols[name].trigger.offline_for_s
            log.info("camera %s back online after %.1f s offline, under protocol %s's offline_for_s (%g s): it "
                     "told nobody", camera, now - since, name, wait, extra={"camera": camera, "protocol": name})
        return spared

    def _start_blind_long_enough(self, now: float) -> list[int]:
        """Start the waiting protocols whose camera has now been offline for their `offline_for_s`."""
        started = []
        for camera, (since, reason) in list(self._blind.items()):
            for name, protocol in self.settings.protocols.items():
                wait = protocol.trigger.offline_for_s
                if wait <= 0 or now - since < wait or (name, camera) in self._blind_started:
                    continue
                if offline_matches(protocol.trigger, camera, now):
                    run_id = self._start_offline(name, protocol, camera, f"{reason} (offline for {now - since:.0f} s)",
                                                 now)
                    if run_id is not None:
                        started.append(run_id)
                self._blind_started.add((name, camera))  # after the start: a failed one is tried at the next tick
        return started

    def _start_offline(self, name: str, protocol: Protocol, camera: str, reason: str, now: float) -> int | None:
        subject = offline_subject()
        context = self._context(name, event_id=subject, camera=camera, reason=reason, confirmed_at=now)
        return self._start(name, protocol, subject, "camera_offline", camera, context, now)

    def on_disk_low(self, reason: str, at: float | None = None) -> list[int]:
        """The evidence disk below its floor: every `on: disk_low` protocol starts. Its runs have no camera
        (the disk is the site's): a repeat within a protocol's cooldown merges into the run it follows."""
        now = time.time() if at is None else at
        started = []
        for name, protocol in self.settings.protocols.items():
            if not disk_low_matches(protocol.trigger, now):
                continue
            subject = f"disk-{uuid.uuid4().hex[:24]}"
            context = self._context(name, event_id=subject, camera=None, reason=reason, confirmed_at=now)
            run_id = self._start(name, protocol, subject, "disk_low", "", context, now)
            if run_id is not None:
                started.append(run_id)
        return started

    def _context(self, protocol: str, **facts: Any) -> dict[str, Any]:
        return {"site": self.settings.site_name, "protocol": protocol, **facts}

    def _start(self, name: str, protocol: Protocol, subject: str, trigger: str, camera: str,
               context: dict[str, Any], now: float, refuse: str | None = None) -> int | None:
        """The run of `name` for `subject`, unless one exists; `refuse`: why none may start (audited)."""
        actor = f"protocol:{name}"
        with self.store.errors(f"cannot start protocol {name} in"), self.store.write_session.begin() as session:
            lock_event(session, subject)
            if session.scalars(select(ProtocolRunRow.id).where(ProtocolRunRow.protocol == name,
                                                               ProtocolRunRow.subject == subject)).first():
                return None
            if refuse is not None:
                audit.append(session, actor, "protocol.not_started", subject, camera, at=now, reason=refuse)
                return None
            called_off = _disposition(session, subject)
            if called_off is not None and called_off.disposition in FINAL:
                # Marked before any protocol ran (e.g. below min_score then): an alert now could not even
                # be withdrawn, as the event takes no second false alarm or resolve.
                audit.append(session, actor, "protocol.not_started", subject, camera, at=now,
                             reason=f"the event is already {called_off.disposition.replace('_', ' ')} "
                                    f"(by {called_off.actor})")
                return None
            merged_into = self._cooling_down(session, name, protocol, camera, trigger, now)
            row = ProtocolRunRow(protocol=name, subject=subject, trigger=trigger, event_id=subject, camera=camera,
                                 state="running", step=0, escalated=0, wake_at=None, context=context,
                                 started_at=now, updated_at=now)
            if merged_into is not None:
                row.state, row.context = "merged", {**context, "merged_into": merged_into}
                session.add(row)
                session.flush()
                audit.append(session, actor, "protocol.merged", subject, camera, at=now, run=row.id, into=merged_into,
                             reason=f"a run for camera {camera} started less than {protocol.cooldown_s:g} s ago")
                return None
            session.add(row)
            session.flush()
            audit.append(session, actor, "protocol.started", subject, camera, at=now, run=row.id, trigger=trigger,
                         score=_rounded(context.get("score")))
            if protocol.verify is not None:
                self._verify(session, row, protocol, now)
            else:
                self._advance(session, row, protocol, now)
            run_id = row.id
        self.wake()
        return run_id

    def _cooling_down(self, session: Session, name: str, protocol: Protocol, camera: str, trigger: str,
                      now: float) -> str | None:
        """The subject of a run of this protocol on this camera that started within the cool-down and was
        not called off (a false alarm or an all-clear never absorbs a new threat)."""
        if protocol.cooldown_s <= 0:
            return None
        query = (select(ProtocolRunRow.subject)
                 .where(ProtocolRunRow.protocol == name, ProtocolRunRow.camera == camera,
                        ProtocolRunRow.trigger == trigger, ProtocolRunRow.state.in_((*ACTIVE_STATES, "done")),
                        ProtocolRunRow.started_at >= now - protocol.cooldown_s)
                 .order_by(ProtocolRunRow.started_at.desc()).limit(1))
        return session.scalars(query).first()

    # --- moving runs on ------------------------------------------------------------------------------

    def tick(self, now: float | None = None) -> int:
        """Move on the runs that wait for a deadline or an answer; returns how many changed."""
        now = time.time() if now is None else now
        changed = len(self._start_blind_long_enough(now))
        with self.store.errors("cannot read protocols in"), self.store.read_session() as session:
            # Most ticks find nothing to do: look first, without taking the write lock the pipeline needs.
            if session.scalars(select(ProtocolRunRow.id).where(self._waiting(now)).limit(1)).first() is None:
                return changed
        with self.store.errors("cannot advance protocols in"), self.store.write_session.begin() as session:
            # FOR UPDATE (PostgreSQL; SQLite's write lock serialises anyway): a false alarm committing
            # meanwhile aborts a run either before this reads it (it is skipped) or after this commits (and
            # withdraws what this queued); never in between, which revived the run and sent its alerts late.
            runs = session.scalars(select(ProtocolRunRow).where(self._waiting(now))
                                   .order_by(ProtocolRunRow.id).with_for_update()).all()
            for row in runs:
                settings = self._pinned.get(row.id, self.settings)
                protocol = settings.protocols.get(row.protocol)
                if protocol is None:
                    continue  # removed from the site file: leave the run as it is, visible in the store
                before = (row.state, row.step, row.wake_at)
                self._move(session, row, protocol, now, settings)
                changed += (row.state, row.step, row.wake_at) != before
                if row.state not in ACTIVE_STATES and row.state != "merged":
                    self._pinned.pop(row.id, None)
        if changed:
            self.wake()
        return changed

    @staticmethod
    def _waiting(now: float) -> Any:
        """Runs a tick looks at: the active ones, and recent merged ones."""
        return or_(ProtocolRunRow.state.in_(ACTIVE_STATES),
                   and_(ProtocolRunRow.state == "merged", ProtocolRunRow.started_at >= now - MERGE_WATCH_S))

    def _move(self, session: Session, row: ProtocolRunRow, protocol: Protocol, now: float,
              settings: AlertSettings) -> None:
        if row.state == "merged":
            self._unmerge(session, row, protocol, now, settings)
            return
        if row.state == "verifying":
            disposition = _disposition(session, row.event_id)
            # Confirmed, or acknowledged (someone looked and did not call a false alarm; an acknowledgement
            # right after a confirm also replaces it as the event's latest word).
            if disposition is not None and disposition.disposition in ("confirmed", "acknowledged"):
                # A tick that took its time before the answer was recorded (then waited for the write lock):
                # what follows from the answer must not come before it in the history.
                now = max(now, disposition.at)
                audit.append(session, f"protocol:{row.protocol}", "protocol.verified", row.event_id, row.camera,
                             at=now, run=row.id, by=disposition.actor)
            elif row.wake_at is not None and now >= row.wake_at:
                audit.append(session, f"protocol:{row.protocol}", "protocol.verification_timed_out", row.event_id,
                             row.camera, at=now, run=row.id, outcome="continuing (fail-safe)")
            else:
                return
            row.state, row.wake_at, row.updated_at = "running", None, now
        self._advance(session, row, protocol, now, settings)

    def _unmerge(self, session: Session, row: ProtocolRunRow, protocol: Protocol, now: float,
                 settings: AlertSettings) -> None:
        """A merged run starts after all when the run it merged into was called a false alarm: this event's
        gun was never alerted on, and a real gun must not stay silent because of another's false alarm."""
        into = row.context.get("merged_into")
        host = session.scalars(select(ProtocolRunRow).where(ProtocolRunRow.protocol == row.protocol,
                                                             ProtocolRunRow.subject == into)).first()
        host_word = _disposition(session, into)
        if host is None or host.state != "aborted" or host_word is None or host_word.disposition != "false_alarm":
            return
        own_word = _disposition(session, row.event_id)
        actor = f"protocol:{row.protocol}"
        if own_word is not None and own_word.disposition in FINAL:
            row.state, row.updated_at = "aborted", now
            return
        audit.append(session, actor, "protocol.unmerged", row.event_id, row.camera, at=now, run=row.id, into=into,
                     reason=f"event {into} it had merged into was marked a false alarm")
        row.state, row.updated_at = "running", now
        if protocol.verify is not None:
            self._verify(session, row, protocol, now, settings)
        else:
            self._advance(session, row, protocol, now, settings)

    def _verify(self, session: Session, row: ProtocolRunRow, protocol: Protocol, now: float,
                settings: AlertSettings | None = None) -> None:
        verify = protocol.verify
        assert verify is not None
        deliveries, missing = message_deliveries(settings or self.settings, self._ref(row), VERIFY_STEP, "pre_alert",
                                                 verify.to, verify.via, now)
        self.outbox.enqueue(deliveries, session)
        row.state, row.wake_at, row.updated_at = "verifying", now + verify.timeout_s, now
        audit.append(session, f"protocol:{row.protocol}", "protocol.verifying", row.event_id, row.camera, at=now,
                     run=row.id, messages=len(deliveries), unreachable=missing, timeout_s=verify.timeout_s)

    def _advance(self, session: Session, row: ProtocolRunRow, protocol: Protocol, now: float,
                 settings: AlertSettings | None = None) -> None:
        """Run steps until a wait or the end; each step's kind says what it comes to (by `settings`: those the
        run started with, default the current ones)."""
        actor = f"protocol:{row.protocol}"
        while row.step < len(protocol.steps):
            step = protocol.steps[row.step]
            at = StepRun(settings or self.settings, self._ref(row), row.step, self._kind(row), now, row.wake_at,
                         lambda: _acknowledgement(session, row.event_id))
            outcome = kind_of(step).start(step.payload, at)
            if isinstance(outcome, Waiting):
                if outcome.started:
                    row.state, row.wake_at, row.updated_at = "waiting_ack", outcome.until, now
                    audit.append(session, actor, "protocol.waiting_ack", row.event_id, row.camera, at=now,
                                 run=row.id, step=row.step, timeout_s=outcome.timeout_s)
                return
            if isinstance(outcome, Acknowledged):
                now = outcome.at
                row.state, row.wake_at, row.updated_at = "done", None, now
                audit.append(session, actor, "protocol.acknowledged", row.event_id, row.camera, at=now,
                             run=row.id, by=outcome.by, remaining_steps=len(protocol.steps) - row.step - 1)
                return
            if isinstance(outcome, Escalated):
                row.escalated, row.wake_at, row.state = 1, None, "running"
                audit.append(session, actor, "protocol.escalating", row.event_id, row.camera, at=now, run=row.id,
                             step=row.step, reason=outcome.reason)
            else:
                self.outbox.enqueue(outcome.deliveries, session)
                audit.append(session, actor, "protocol.step", row.event_id, row.camera, at=now, run=row.id,
                             step=row.step, step_kind=step.kind, message_kind=at.message_kind,
                             deliveries=len(outcome.deliveries), unreachable=outcome.unreachable)
            row.step += 1
        row.state, row.wake_at, row.updated_at = "done", None, now
        audit.append(session, actor, "protocol.done", row.event_id, row.camera, at=now, run=row.id)

    @staticmethod
    def _kind(row: ProtocolRunRow) -> MessageKind:
        # An offline camera's escalation still says what happened (a camera went dark, not a gun seen).
        if row.trigger == "camera_offline":
            return "camera_offline"
        if row.trigger == "disk_low":
            return "disk_low"
        return "escalation" if row.escalated else "alert"

    @staticmethod
    def _ref(row: ProtocolRunRow) -> RunRef:
        return RunRef(row.id, row.event_id or row.subject, row.protocol, dict(row.context))


def _rounded(score: Any) -> Any:
    return round(score, 3) if isinstance(score, float) else score


def _disposition(session: Session, event_id: str | None) -> DispositionRow | None:
    return None if event_id is None else session.get(DispositionRow, event_id)


def _acknowledgement(session: Session, event_id: str | None) -> Acknowledgement | None:
    disposition = _disposition(session, event_id)
    if disposition is None or disposition.acknowledged_at is None:
        return None
    return Acknowledgement(disposition.acknowledged_at, disposition.actor)
