"""The tables, as ORM classes. The migrations in `migrations/versions` create them; a test checks both agree.

Camera names are plain columns, not foreign keys: events and health are a log, kept when a camera is
renamed or removed from the site file, and recorded even for a camera that was never registered.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import JSON, CheckConstraint, Float, Index, Integer, MetaData, String, Text
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from gunwatch.events.store.columns import EpochTime
from gunwatch.video.health import CAMERA_STATES

# Named constraints, so later migrations can address them by name on every backend.
NAMING = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "pk": "pk_%(table_name)s",
}

EVENT_STATES = ("open", "updated", "closed")
HEALTH_STATES = CAMERA_STATES  # the one list, in video.health


def _one_of(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


class CameraRow(Base):
    """A camera and its current health (the latest health record)."""

    __tablename__ = "cameras"
    __table_args__ = (CheckConstraint(_one_of("state", HEALTH_STATES), name="state"),)

    name: Mapped[str] = mapped_column(String(200), primary_key=True)
    url: Mapped[str | None] = mapped_column(Text)  # redacted: never a password
    kind: Mapped[str | None] = mapped_column(String(16))
    state: Mapped[str | None] = mapped_column(String(16))  # None until the first health record
    reason: Mapped[str | None] = mapped_column(Text)
    state_at: Mapped[float | None] = mapped_column(EpochTime)  # when the current state was recorded
    updated_at: Mapped[float] = mapped_column(EpochTime)


class EventRow(Base):
    """One threat event: open, updated and closed rewrite the same row."""

    __tablename__ = "threat_events"
    __table_args__ = (
        CheckConstraint(_one_of("state", EVENT_STATES), name="state"),
        Index(None, "confirmed_at"),
        Index(None, "camera", "confirmed_at"),
    )

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    camera: Mapped[str] = mapped_column(String(200))
    zone: Mapped[str | None] = mapped_column(String(200))
    state: Mapped[str] = mapped_column(String(16))
    max_score: Mapped[float] = mapped_column(Float)
    best_box: Mapped[list[float]] = mapped_column(JSON)
    boxes: Mapped[list[Any]] = mapped_column(JSON)
    first_seen: Mapped[float] = mapped_column(EpochTime)
    confirmed_at: Mapped[float] = mapped_column(EpochTime)
    last_seen: Mapped[float] = mapped_column(EpochTime)
    closed_at: Mapped[float | None] = mapped_column(EpochTime)
    first_pts: Mapped[float | None] = mapped_column(Float)  # a stream timestamp, not wall-clock time
    track_id: Mapped[int | None] = mapped_column(Integer)
    snapshot: Mapped[str | None] = mapped_column(Text)
    annotated: Mapped[str | None] = mapped_column(Text)
    clip: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[float] = mapped_column(EpochTime)
    updated_at: Mapped[float] = mapped_column(EpochTime)


class HealthRow(Base):
    """One health change of a camera; rows are only ever appended."""

    __tablename__ = "camera_health"
    __table_args__ = (
        CheckConstraint(_one_of("state", HEALTH_STATES), name="state"),
        Index(None, "camera", "at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    camera: Mapped[str] = mapped_column(String(200))
    state: Mapped[str] = mapped_column(String(16))
    reason: Mapped[str | None] = mapped_column(Text)
    at: Mapped[float] = mapped_column(EpochTime)


# --- alerts: the outbox, protocol runs, the audit log -------------------------------------------------------

DISPOSITIONS = ("acknowledged", "confirmed", "false_alarm", "resolved")
DELIVERY_STATES = ("pending", "sending", "delivered", "failed", "cancelled")
DELIVERY_ACTIONS = ("message", "call", "publish", "command")
RUN_STATES = ("verifying", "running", "waiting_ack", "done", "aborted", "merged")


class DispositionRow(Base):
    """What people said of an event (acknowledged, confirmed, false alarm, resolved); one row per event,
    the latest word. The full history is in the audit log."""

    __tablename__ = "event_dispositions"
    __table_args__ = (CheckConstraint(_one_of("disposition", DISPOSITIONS), name="disposition"),)

    event_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    disposition: Mapped[str] = mapped_column(String(16))
    actor: Mapped[str] = mapped_column(String(200))
    note: Mapped[str | None] = mapped_column(Text)
    acknowledged_at: Mapped[float | None] = mapped_column(EpochTime)  # kept when a later word follows
    at: Mapped[float] = mapped_column(EpochTime)


class DeliveryRow(Base):
    """One notification or action of the outbox, written before it is attempted.

    `key` is the idempotency key (event, step, recipient, channel and kind): enqueuing the same key twice
    is one delivery, and receivers see the key to drop a redelivery. `lane` is what one worker serves in
    order (a channel, or the HTTP calls, or the commands): a slow lane never holds up another.
    """

    __tablename__ = "deliveries"
    __table_args__ = (
        CheckConstraint(_one_of("status", DELIVERY_STATES), name="status"),
        CheckConstraint(_one_of("action", DELIVERY_ACTIONS), name="action"),
        Index(None, "lane", "status", "next_attempt_at"),
        Index(None, "event_id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    key: Mapped[str] = mapped_column(String(400), unique=True)
    event_id: Mapped[str | None] = mapped_column(String(64))
    run_id: Mapped[int | None] = mapped_column(Integer)
    step: Mapped[int | None] = mapped_column(Integer)
    kind: Mapped[str] = mapped_column(String(16))  # the message kind: alert, cancel, ...
    action: Mapped[str] = mapped_column(String(16))
    lane: Mapped[str] = mapped_column(String(200))
    channel: Mapped[str | None] = mapped_column(String(200))
    recipient: Mapped[str | None] = mapped_column(String(200))
    address: Mapped[str | None] = mapped_column(Text)
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)
    status: Mapped[str] = mapped_column(String(16))
    attempts: Mapped[int] = mapped_column(Integer)
    next_attempt_at: Mapped[float] = mapped_column(EpochTime)
    lease_until: Mapped[float | None] = mapped_column(EpochTime)  # a claim older than this was lost (a crash)
    claimed_by: Mapped[str | None] = mapped_column(String(200))  # HOST:PID of the worker sending it
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[float] = mapped_column(EpochTime)
    first_attempt_at: Mapped[float | None] = mapped_column(EpochTime)
    delivered_at: Mapped[float | None] = mapped_column(EpochTime)
    updated_at: Mapped[float] = mapped_column(EpochTime)


class ProtocolRunRow(Base):
    """One protocol running for one subject (a threat event, or a camera that went offline)."""

    __tablename__ = "protocol_runs"
    __table_args__ = (
        CheckConstraint(_one_of("state", RUN_STATES), name="state"),
        Index(None, "protocol", "subject", unique=True),
        Index(None, "state", "wake_at"),
        Index(None, "event_id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    protocol: Mapped[str] = mapped_column(String(200))
    subject: Mapped[str] = mapped_column(String(300))  # the event id, or offline-HEX for a camera-offline incident
    trigger: Mapped[str] = mapped_column(String(16))
    event_id: Mapped[str | None] = mapped_column(String(64))
    camera: Mapped[str] = mapped_column(String(200))
    state: Mapped[str] = mapped_column(String(16))
    step: Mapped[int] = mapped_column(Integer)  # the next step to run
    escalated: Mapped[int] = mapped_column(Integer)  # a wait_ack timed out: later messages are escalations
    wake_at: Mapped[float | None] = mapped_column(EpochTime)  # verifying / waiting_ack: the deadline
    context: Mapped[dict[str, Any]] = mapped_column(JSON)  # what messages are made from (camera, zone, score...)
    started_at: Mapped[float] = mapped_column(EpochTime)
    updated_at: Mapped[float] = mapped_column(EpochTime)


class AuditRow(Base):
    """The append-only record: every state change, delivery attempt and acknowledgement, with who and when."""

    __tablename__ = "audit_log"
    __table_args__ = (Index(None, "event_id", "at"), Index(None, "at"))

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    at: Mapped[float] = mapped_column(EpochTime)
    event_id: Mapped[str | None] = mapped_column(String(64))
    camera: Mapped[str | None] = mapped_column(String(200))
    actor: Mapped[str] = mapped_column(String(200))  # "pipeline", "protocol:NAME", "outbox", "cli:USER", "link:..."
    action: Mapped[str] = mapped_column(String(64))
    detail: Mapped[dict[str, Any]] = mapped_column(JSON)


# --- watch runs: one row per `gunwatch watch` process -------------------------------------------------------

# stopped: it stopped as asked (a signal, --duration, --until-done). failed: it stopped on an error, after
# saying so. crashed: it never said (killed, power cut); the next start finds that out and writes it.
RUN_ENDINGS = ("stopped", "failed", "crashed")


class WatchRunRow(Base):
    """One `gunwatch watch` process, from its start to its end. `ending` is None while it runs; a heartbeat
    moves `heartbeat_at` on, so a later start can tell a live run from a dead one on another host."""

    __tablename__ = "watch_runs"
    __table_args__ = (CheckConstraint(_one_of("ending", RUN_ENDINGS), name="ending"), Index(None, "started_at"))

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    host: Mapped[str] = mapped_column(String(255))
    pid: Mapped[int] = mapped_column(Integer)
    cameras: Mapped[list[str]] = mapped_column(JSON)  # the cameras it watched: marked stopped when it ends
    started_at: Mapped[float] = mapped_column(EpochTime)
    heartbeat_at: Mapped[float] = mapped_column(EpochTime)
    stopped_at: Mapped[float | None] = mapped_column(EpochTime)  # crashed: when the next start found out
    ending: Mapped[str | None] = mapped_column(String(16))
    note: Mapped[str | None] = mapped_column(Text)  # the error of a failed run; who found a crashed one


class RevokedLinkRow(Base):
    """Action links that no longer work before they expire: one link (`token_id`), or every link of an event
    issued until `revoked_at` (`token_id` NULL). Tokens are not stored: a link is known by its random id."""

    __tablename__ = "revoked_links"
    __table_args__ = (Index(None, "event_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    event_id: Mapped[str] = mapped_column(String(64))
    token_id: Mapped[str | None] = mapped_column(String(64))
    revoked_at: Mapped[float] = mapped_column(EpochTime)
    actor: Mapped[str] = mapped_column(String(200))
    reason: Mapped[str | None] = mapped_column(Text)


# --- console users: accounts, sign-in sessions, API tokens (gunwatch.users) ---------------------------------

# The roles of gunwatch.users.principal.ROLES (users sits above events, so the list is repeated here and a
# test checks both agree).
USER_ROLES = ("admin", "operator", "viewer")


class UserRow(Base):
    """A console user. `cameras`: the cameras the user may see, NULL for all. Sessions started before
    `sessions_valid_after` no longer count ("log out everywhere", a new password)."""

    __tablename__ = "users"
    __table_args__ = (CheckConstraint(_one_of("role", USER_ROLES), name="role"),)

    name: Mapped[str] = mapped_column(String(200), primary_key=True)
    role: Mapped[str] = mapped_column(String(16))
    password_hash: Mapped[str] = mapped_column(Text)  # argon2id, with its parameters and salt
    cameras: Mapped[list[str] | None] = mapped_column(JSON)
    created_at: Mapped[float] = mapped_column(EpochTime)
    updated_at: Mapped[float] = mapped_column(EpochTime)
    sessions_valid_after: Mapped[float] = mapped_column(EpochTime)


class UserSessionRow(Base):
    """One sign-in. `id` is the SHA-256 of the cookie's secret: a copy of the table signs nobody in."""

    __tablename__ = "user_sessions"
    __table_args__ = (Index(None, "user_name"), Index(None, "expires_at"))

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_name: Mapped[str] = mapped_column(String(200))
    csrf: Mapped[str] = mapped_column(String(64))  # the token every form of this session carries
    created_at: Mapped[float] = mapped_column(EpochTime)
    last_seen_at: Mapped[float] = mapped_column(EpochTime)
    expires_at: Mapped[float] = mapped_column(EpochTime)  # moves on with each use (sliding expiry)
    address: Mapped[str | None] = mapped_column(String(100))  # where the sign-in came from


class ApiTokenRow(Base):
    """An API token of an integration, acting for `user_name` with `scopes` (never more than its role's).
    The token is `gwt_<id>_<secret>`: `id` finds the row, only the secret's SHA-256 is kept."""

    __tablename__ = "api_tokens"
    __table_args__ = (Index(None, "user_name"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    user_name: Mapped[str] = mapped_column(String(200))
    secret_hash: Mapped[str] = mapped_column(String(64))
    scopes: Mapped[list[str]] = mapped_column(JSON)
    created_at: Mapped[float] = mapped_column(EpochTime)
    last_used_at: Mapped[float | None] = mapped_column(EpochTime)
    expires_at: Mapped[float | None] = mapped_column(EpochTime)
    revoked_at: Mapped[float | None] = mapped_column(EpochTime)


# --- retention: legal holds (gunwatch.events.retention) ------------------------------------------------------


class LegalHoldRow(Base):
    """An event under a legal hold: retention never prunes its evidence nor deletes it until it is lifted.
    One row per held event; holding and lifting are in the audit log."""

    __tablename__ = "legal_holds"

    event_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    actor: Mapped[str] = mapped_column(String(200))
    reason: Mapped[str | None] = mapped_column(Text)
    at: Mapped[float] = mapped_column(EpochTime)


# --- cluster mode: one holder per camera (gunwatch.events.store.leases) --------------------------------------


class CameraLeaseRow(Base):
    """Who watches a camera in cluster mode, until when. Rows are never deleted: `token` (the fencing token)
    only grows, also across a release. `released_at` is set when the holder let go (None while held)."""

    __tablename__ = "camera_leases"
    __table_args__ = (Index(None, "holder"),)

    camera: Mapped[str] = mapped_column(String(200), primary_key=True)
    holder: Mapped[str] = mapped_column(String(200))  # a node agent's id: agent-<node id>-<pid>
    node: Mapped[str] = mapped_column(String(200))  # the Ray node (or host) the holder runs on
    token: Mapped[int] = mapped_column(Integer)
    expires_at: Mapped[float] = mapped_column(EpochTime)
    released_at: Mapped[float | None] = mapped_column(EpochTime)
