"""Who a request or command acts as, and what it may do: one type for sessions, API tokens, links and the CLI.

The service layer (`gunwatch.service`) checks every read and action against it, so the console, the API,
the CLI and links cannot drift apart on who may see or do what.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Role = Literal["admin", "operator", "viewer"]
ROLES: tuple[Role, ...] = ("admin", "operator", "viewer")

# What a credential may do. A user's scopes are its role's; an API token's are the ones it was given, never
# more than its user's role allows.
Scope = Literal["events:read", "events:act", "cameras:read", "live:read", "admin"]
SCOPES: tuple[Scope, ...] = ("events:read", "events:act", "cameras:read", "live:read", "admin")
ROLE_SCOPES: dict[Role, frozenset[Scope]] = {
    "viewer": frozenset({"events:read", "cameras:read", "live:read"}),
    "operator": frozenset({"events:read", "events:act", "cameras:read", "live:read"}),
    "admin": frozenset(SCOPES),
}
Via = Literal["session", "token", "link", "cli"]


class AccessDenied(PermissionError):
    """The principal may not do this (a missing scope) or see this (a camera outside its access)."""


@dataclass(frozen=True)
class Principal:
    """`name`: the user's name (a token acts for its user). `cameras`: the cameras it may see, None for all.
    `token`: the API token's name when the request came with one."""

    name: str
    role: Role
    scopes: frozenset[Scope]
    cameras: frozenset[str] | None = None
    via: Via = "session"
    token: str | None = None

    @property
    def actor(self) -> str:
        """How the audit log names who acted: `user:NAME`, or `token:NAME (user:USER)`."""
        if self.via == "cli":
            return f"cli:{self.name}"
        if self.token is not None:
            return f"token:{self.token} (user:{self.name})"
        return f"user:{self.name}"

    def may(self, scope: Scope) -> bool:
        return scope in self.scopes

    def sees(self, camera: str) -> bool:
        return self.cameras is None or camera in self.cameras

    def require(self, scope: Scope) -> None:
        if not self.may(scope):
            raise AccessDenied(f"{self.actor} may not {scope.replace(':', ' ')} (role {self.role})")

    def require_camera(self, camera: str) -> None:
        if not self.sees(camera):
            raise AccessDenied(f"{self.actor} has no access to camera {camera}")


def user_principal(name: str, role: Role, cameras: frozenset[str] | None, via: Via = "session") -> Principal:
    return Principal(name, role, ROLE_SCOPES[role], cameras, via)


def cli_principal(name: str) -> Principal:
    """The command line acts as whoever runs it on the host: an admin of every camera."""
    return Principal(name, "admin", ROLE_SCOPES["admin"], None, "cli")
