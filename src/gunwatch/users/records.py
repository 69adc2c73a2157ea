"""The values the user store hands out, and the checks on what it is given (names, roles, scopes, cameras)."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import NamedTuple, cast

from gunwatch.events.store.schema import ApiTokenRow, UserRow
from gunwatch.users.principal import ROLE_SCOPES, ROLES, SCOPES, Principal, Role, Scope

# Letters, digits and . _ @ + - (an e-mail address works as a name): nothing that needs quoting in a shell,
# a log line or the audit log's `user:NAME`.
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._@+-]{0,99}")


class UserError(ValueError):
    """Input the user store refuses, or a user or token that is not there (or already is); the message names it."""


@dataclass(frozen=True)
class UserInfo:
    name: str
    role: Role
    cameras: frozenset[str] | None  # None: every camera
    created_at: float
    updated_at: float


@dataclass(frozen=True)
class TokenInfo:
    name: str
    user: str
    scopes: frozenset[Scope]
    created_at: float
    last_used_at: float | None
    expires_at: float | None
    revoked_at: float | None

    def active(self, now: float) -> bool:
        return self.revoked_at is None and (self.expires_at is None or now < self.expires_at)


class NewSession(NamedTuple):
    """What a sign-in gives: the cookie's secret (shown once, stored as its hash) and the session's CSRF token."""

    secret: str
    csrf: str


class ActiveSession(NamedTuple):
    principal: Principal
    csrf: str


def check_name(name: str, what: str) -> str:
    if not isinstance(name, str) or not _NAME.fullmatch(name):
        raise UserError(f"{what} name {name!r} is not usable: 1 to 100 letters, digits and . _ @ + -, "
                        "starting with a letter or digit")
    return name


def check_role(role: str, user: str) -> Role:
    if role not in ROLES:
        raise UserError(f"user {user}: no role {role!r}; the roles are {', '.join(ROLES)}")
    return cast(Role, role)


def check_cameras(cameras: Iterable[str] | None, user: str) -> frozenset[str] | None:
    """None stays None (every camera); otherwise the set of names, each non-empty."""
    if cameras is None:
        return None
    if isinstance(cameras, str):
        raise UserError(f"user {user}: give cameras as a list of names, not the string {cameras!r}")
    names = frozenset(cameras)
    bad = sorted(repr(name) for name in names if not isinstance(name, str) or not name.strip() or len(name) > 200)
    if bad:
        raise UserError(f"user {user}: camera names must be 1 to 200 characters, not {', '.join(bad)}")
    return names


def check_scopes(scopes: Iterable[str], token: str, user: str, role: Role) -> frozenset[Scope]:
    """The scopes a token of `user` may be given: known ones, at least one, none beyond the user's role."""
    given = frozenset(scopes)
    unknown = sorted(given - set(SCOPES))
    if unknown:
        raise UserError(f"token {token}: no scope {', '.join(unknown)}; the scopes are {', '.join(SCOPES)}")
    if not given:
        raise UserError(f"token {token}: give at least one scope ({', '.join(SCOPES)})")
    beyond = sorted(given - ROLE_SCOPES[role])
    if beyond:
        raise UserError(f"token {token}: user {user} is {role} and cannot give a token {', '.join(beyond)} "
                        f"(a {role} has {', '.join(sorted(ROLE_SCOPES[role]))})")
    return cast(frozenset[Scope], given)


def user_info(row: UserRow) -> UserInfo:
    cameras = None if row.cameras is None else frozenset(row.cameras)
    return UserInfo(row.name, cast(Role, row.role), cameras, row.created_at, row.updated_at)


def token_info(row: ApiTokenRow) -> TokenInfo:
    return TokenInfo(row.name, row.user_name, cast(frozenset[Scope], frozenset(row.scopes)), row.created_at,
                     row.last_used_at, row.expires_at, row.revoked_at)
