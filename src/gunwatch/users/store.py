"""Users, their sign-in sessions and API tokens, in the event store's database.

    users = UserStore(store, session_hours=12)
    users.add_user("ana", "operator", "a long pass phrase", cameras={"lobby"})
    principal = users.authenticate("ana", "a long pass phrase")        # None: wrong name or password
    secret, csrf = users.start_session("ana", "192.0.2.7")             # the cookie's secret, the form token
    users.session(secret)                                              # (Principal, csrf), or None
    token = users.create_token("vms", "ana", {"events:read"})          # gwt_<id>_<secret>, shown once
    users.token_principal(token)                                       # a Principal with the token's scopes

A session or token always acts with its user's current role and cameras: a change of access applies at the
next request, and a token never does more than its user's role allows. Every change writes the audit log in
its own transaction; `by` is who made it (None: whoever runs the command, `cli:USER`).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from typing import Any, cast

from sqlalchemy import delete, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from gunwatch.events.store import EventStore
from gunwatch.events.store.schema import ApiTokenRow, UserRow, UserSessionRow
from gunwatch.users.audit import actor_of, record
from gunwatch.users.credentials import digest, matches, new_secret, new_token, parse_token
from gunwatch.users.passwords import PasswordError, Passwords
from gunwatch.users.principal import ROLE_SCOPES, Principal, Role, Scope, user_principal
from gunwatch.users.records import (
    ActiveSession,
    NewSession,
    TokenInfo,
    UserError,
    UserInfo,
    check_cameras,
    check_name,
    check_role,
    check_scopes,
    token_info,
    user_info,
)

# A session's expiry and a token's last use are written at most this often: a page with many images would
# otherwise write to the database on every request.
TOUCH_EVERY_S = 60.0


class _Keep:
    def __repr__(self) -> str:
        return "KEEP"


KEEP = _Keep()  # set_access: leave the cameras as they are (None means every camera)


class UserStore:
    """`clock` gives wall-clock epoch seconds (tests pass their own). Safe to share between threads."""

    def __init__(self, store: EventStore, *, session_hours: float = 12.0, passwords: Passwords | None = None,
                 clock: Callable[[], float] = time.time):
        if session_hours <= 0:
            raise ValueError(f"session_hours must be positive, not {session_hours}")
        self.store = store
        self.session_hours = session_hours
        self.passwords = passwords or Passwords()
        self.clock = clock

    # --- users ---------------------------------------------------------------------------------------------

    def add_user(self, name: str, role: str, password: str, cameras: Iterable[str] | None = None,
                 by: Principal | None = None) -> UserInfo:
        check_name(name, "user")
        checked_role = check_role(role, name)
        allowed = check_cameras(cameras, name)
        password_hash = self._hash(name, password)
        now = self.clock()
        row = UserRow(name=name, role=checked_role, password_hash=password_hash,
                      cameras=None if allowed is None else sorted(allowed), created_at=now, updated_at=now,
                      sessions_valid_after=now)
        exists = UserError(f"user {name} exists already (gunwatch user passwd / remove)")
        with self.store.errors(f"cannot add user {name} to"):
            try:
                with self.store.write_session.begin() as session:
                    if session.get(UserRow, name) is not None:
                        raise exists
                    session.add(row)
                    record(session, actor_of(by), "user.added", now, user=name, role=checked_role,
                           cameras=row.cameras)
                    session.flush()
                    added = user_info(row)
            except IntegrityError:  # added by someone else between the look and the insert (PostgreSQL)
                raise exists from None
        return added

    def get_user(self, name: str) -> UserInfo | None:
        with self.store.errors("cannot read users from"), self.store.read_session() as session:
            row = session.get(UserRow, name)
            return None if row is None else user_info(row)

    def list_users(self) -> list[UserInfo]:
        with self.store.errors("cannot read users from"), self.store.read_session() as session:
            return [user_info(row) for row in session.scalars(select(UserRow).order_by(UserRow.name))]

    def remove_user(self, name: str, by: Principal | None = None) -> None:
        """The user goes; its sessions end and its tokens are revoked (they stay listed, revoked)."""
        now = self.clock()
        with self.store.errors(f"cannot remove user {name} from"), self.store.write_session.begin() as session:
            self._user_row(session, name)
            session.execute(delete(UserRow).where(UserRow.name == name))
            ended = self._end_sessions(session, name)
            revoked = _rowcount(session.execute(
                update(ApiTokenRow).where(ApiTokenRow.user_name == name, ApiTokenRow.revoked_at.is_(None))
                .values(revoked_at=now)))
            record(session, actor_of(by), "user.removed", now, user=name, sessions_ended=ended,
                   tokens_revoked=revoked)

    def set_password(self, name: str, password: str, by: Principal | None = None) -> None:
        """A new password; every session of the user ends (whoever knew the old one is signed out)."""
        password_hash = self._hash(name, password)
        now = self.clock()
        with self.store.errors(f"cannot change the password of user {name} in"), \
                self.store.write_session.begin() as session:
            row = self._user_row(session, name)
            row.password_hash, row.updated_at, row.sessions_valid_after = password_hash, now, now
            ended = self._end_sessions(session, name)
            record(session, actor_of(by), "user.password_changed", now, user=name, sessions_ended=ended)

    def set_access(self, name: str, role: str | None = None, cameras: Iterable[str] | _Keep | None = KEEP,
                   by: Principal | None = None) -> UserInfo:
        """A new role and/or camera access (None: every camera); it applies to the user's sessions and tokens
        at their next request."""
        new_role = None if role is None else check_role(role, name)
        new_cameras = cameras if isinstance(cameras, _Keep) else check_cameras(cameras, name)
        now = self.clock()
        with self.store.errors(f"cannot change the access of user {name} in"), \
                self.store.write_session.begin() as session:
            row = self._user_row(session, name)
            before = {"role": row.role, "cameras": row.cameras}
            if new_role is not None:
                row.role = new_role
            if not isinstance(new_cameras, _Keep):
                row.cameras = None if new_cameras is None else sorted(new_cameras)
            row.updated_at = now
            record(session, actor_of(by), "user.access_changed", now, user=name, before=before,
                   after={"role": row.role, "cameras": row.cameras})
            session.flush()
            return user_info(row)

    # --- sign-in and sessions ------------------------------------------------------------------------------

    def authenticate(self, name: str, password: str, address: str | None = None) -> Principal | None:
        """The user's principal when the password is theirs, else None (a failure is audited). Unknown names
        cost the same work as known ones. A hash made with older parameters is redone with the current ones."""
        with self.store.errors("cannot read users from"), self.store.read_session() as session:
            row = session.get(UserRow, name)
            stored = None if row is None else row.password_hash
            found = None if row is None else user_principal(row.name, cast(Role, row.role), _cameras(row.cameras))
        if not self.passwords.verify(stored, password) or found is None or stored is None:
            with self.store.errors("cannot write the audit log of"), self.store.write_session.begin() as session:
                record(session, "console", "session.sign_in_failed", self.clock(), user=name[:200], address=address)
            return None
        if self.passwords.needs_rehash(stored):
            self._rehash(name, stored, password)
        return found

    def start_session(self, name: str, address: str | None = None) -> NewSession:
        """A new session with a new secret and CSRF token, on every sign-in (a session id planted before the
        sign-in is never the one after). Expired sessions of everyone are cleared out on the way."""
        secret, csrf = new_secret(), new_secret()
        now = self.clock()
        with self.store.errors(f"cannot start a session of user {name} in"), \
                self.store.write_session.begin() as session:
            self._user_row(session, name)
            session.execute(delete(UserSessionRow).where(UserSessionRow.expires_at <= now))
            session.add(UserSessionRow(id=digest(secret), user_name=name, csrf=csrf, created_at=now,
                                       last_seen_at=now, expires_at=now + self._session_s, address=address))
            record(session, f"user:{name}", "session.started", now, user=name, address=address)
        return NewSession(secret, csrf)

    def session(self, secret: str) -> ActiveSession | None:
        """The session's principal and CSRF token; None when it is unknown, expired, ended, or its user was
        removed or signed out everywhere since. Each use moves the expiry on (`session_hours` from now)."""
        now = self.clock()
        session_id = digest(secret)
        with self.store.errors("cannot read sessions from"), self.store.read_session() as session:
            found = session.execute(select(UserSessionRow, UserRow).join(
                UserRow, UserRow.name == UserSessionRow.user_name).where(UserSessionRow.id == session_id)).first()
            if found is None:
                return None
            row, user = found
            if now >= row.expires_at or row.created_at < user.sessions_valid_after:
                return None
            active = ActiveSession(user_principal(user.name, cast(Role, user.role), _cameras(user.cameras)), row.csrf)
            stale = now - row.last_seen_at >= TOUCH_EVERY_S
        if stale:
            with self.store.errors("cannot update a session in"), self.store.write_session.begin() as session:
                session.execute(update(UserSessionRow).where(UserSessionRow.id == session_id)
                                .values(last_seen_at=now, expires_at=now + self._session_s))
        return active

    def end_session(self, secret: str) -> bool:
        """Sign out one session; False when there was none."""
        now = self.clock()
        with self.store.errors("cannot end a session in"), self.store.write_session.begin() as session:
            row = session.get(UserSessionRow, digest(secret))
            if row is None:
                return False
            session.delete(row)
            record(session, f"user:{row.user_name}", "session.ended", now, user=row.user_name)
            return True

    def end_all_sessions(self, name: str, by: Principal | None = None) -> int:
        """Sign the user out everywhere (its API tokens stay: revoke those one by one); how many sessions ended."""
        now = self.clock()
        with self.store.errors(f"cannot end the sessions of user {name} in"), \
                self.store.write_session.begin() as session:
            row = self._user_row(session, name)
            row.sessions_valid_after = now
            ended = self._end_sessions(session, name)
            record(session, actor_of(by), "user.signed_out_everywhere", now, user=name, sessions_ended=ended)
            return ended

    # --- API tokens ----------------------------------------------------------------------------------------

    def create_token(self, name: str, user: str, scopes: Iterable[str], expires_at: float | None = None,
                     by: Principal | None = None) -> str:
        """A new token acting for `user` with `scopes` (within the user's role); its text is returned once and
        never stored. The name of a revoked token may be used again (rotating an integration's token)."""
        check_name(name, "token")
        token, parts = new_token()
        now = self.clock()
        if expires_at is not None and expires_at <= now:
            raise UserError(f"token {name}: its expiry is in the past")
        exists = UserError(f"token {name} exists already (gunwatch token revoke {name} first)")
        with self.store.errors(f"cannot create token {name} in"):
            try:
                with self.store.write_session.begin() as session:
                    owner = self._user_row(session, user)
                    given = check_scopes(scopes, name, user, cast(Role, owner.role))
                    existing = session.scalars(select(ApiTokenRow).where(ApiTokenRow.name == name)).first()
                    if existing is not None and existing.revoked_at is None:
                        raise exists
                    if existing is not None:  # revoked: its record stays in the audit log
                        session.delete(existing)
                        session.flush()
                    session.add(ApiTokenRow(id=parts.id, name=name, user_name=user, secret_hash=digest(parts.secret),
                                            scopes=sorted(given), created_at=now, expires_at=expires_at))
                    record(session, actor_of(by), "token.created", now, token=name, user=user,
                           scopes=sorted(given), expires_at=expires_at)
            except IntegrityError:  # created by someone else between the look and the insert (PostgreSQL)
                raise exists from None
        return token

    def token_principal(self, token: str) -> Principal | None:
        """Who a token acts as: its user, with the token's scopes (narrowed to the user's current role) and the
        user's cameras. None for anything else: malformed, unknown, wrong secret, revoked, expired, user gone."""
        parts = parse_token(token)
        if parts is None:
            return None
        now = self.clock()
        with self.store.errors("cannot read tokens from"), self.store.read_session() as session:
            found = session.execute(select(ApiTokenRow, UserRow).join(
                UserRow, UserRow.name == ApiTokenRow.user_name).where(ApiTokenRow.id == parts.id)).first()
            if found is None:
                return None
            row, user = found
            if not matches(parts.secret, row.secret_hash) or not token_info(row).active(now):
                return None
            role = cast(Role, user.role)
            scopes = cast(frozenset[Scope], frozenset(row.scopes) & ROLE_SCOPES[role])
            principal = Principal(user.name, role, scopes, _cameras(user.cameras), "token", row.name)
            stale = row.last_used_at is None or now - row.last_used_at >= TOUCH_EVERY_S
        if stale:
            with self.store.errors("cannot update a token in"), self.store.write_session.begin() as session:
                session.execute(update(ApiTokenRow).where(ApiTokenRow.id == parts.id).values(last_used_at=now))
        return principal

    def list_tokens(self, user: str | None = None) -> list[TokenInfo]:
        query = select(ApiTokenRow).order_by(ApiTokenRow.name)
        if user is not None:
            query = query.where(ApiTokenRow.user_name == user)
        with self.store.errors("cannot read tokens from"), self.store.read_session() as session:
            return [token_info(row) for row in session.scalars(query)]

    def revoke_token(self, name: str, by: Principal | None = None) -> bool:
        """The token stops working at once; False when it was revoked already."""
        now = self.clock()
        with self.store.errors(f"cannot revoke token {name} in"), self.store.write_session.begin() as session:
            row = session.scalars(select(ApiTokenRow).where(ApiTokenRow.name == name)).first()
            if row is None:
                raise UserError(f"no token {name} (gunwatch token list shows them)")
            if row.revoked_at is not None:
                return False
            row.revoked_at = now
            record(session, actor_of(by), "token.revoked", now, token=name, user=row.user_name)
            return True

    # --- helpers -------------------------------------------------------------------------------------------

    @property
    def _session_s(self) -> float:
        return self.session_hours * 3600.0

    def _hash(self, name: str, password: str) -> str:
        try:
            return self.passwords.hash(password)
        except PasswordError as error:
            raise UserError(f"user {name}: {error}") from None

    def _rehash(self, name: str, stored: str, password: str) -> None:
        # Only if the hash is still the one checked: a password changed meanwhile is not overwritten.
        new_hash = self.passwords.hasher.hash(password)
        with self.store.errors(f"cannot update the password hash of user {name} in"), \
                self.store.write_session.begin() as session:
            changed = _rowcount(session.execute(
                update(UserRow).where(UserRow.name == name, UserRow.password_hash == stored)
                .values(password_hash=new_hash)))
            if changed:
                record(session, f"user:{name}", "user.password_rehashed", self.clock(), user=name)

    @staticmethod
    def _user_row(session: Session, name: str) -> UserRow:
        row = session.get(UserRow, name)
        if row is None:
            raise UserError(f"no user {name} (gunwatch user list shows them)")
        return row

    @staticmethod
    def _end_sessions(session: Session, name: str) -> int:
        return _rowcount(session.execute(delete(UserSessionRow).where(UserSessionRow.user_name == name)))


def _cameras(cameras: list[str] | None) -> frozenset[str] | None:
    return None if cameras is None else frozenset(cameras)


def _rowcount(result: Any) -> int:
    """Rows an UPDATE or DELETE touched (a CursorResult's, which the Result type does not declare)."""
    return int(result.rowcount)
