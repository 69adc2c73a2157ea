"""`gunwatch user ...` and `gunwatch token ...`: console users and API tokens, kept in the site's event store.

Both find the store as `gunwatch event list` does: `--store URL`, else the `--config` site file's, else the
default SQLite file. Passwords are never taken as arguments (they would stay in the shell's history and show
in `ps`): they are prompted for twice, hidden, or read from stdin with `--password-stdin`.
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, TypeVar

import typer

# The store's modules (SQLAlchemy) are imported when a command runs: `gunwatch --help` stays quick.
if TYPE_CHECKING:
    from gunwatch.users.records import TokenInfo, UserInfo
    from gunwatch.users.store import UserStore

T = TypeVar("T")

user_app = typer.Typer(help="Console users: their roles (admin, operator, viewer), cameras and passwords.",
                       no_args_is_help=True)
token_app = typer.Typer(help="API tokens for integrations (a video-management system, a PSIM): scoped, "
                             "revocable.", no_args_is_help=True)

StoreOption = Annotated[
    str | None, typer.Option("--store", help="database URL (default: the --config file's, else sqlite:///runs/gunwatch.db)")
]
SiteOption = Annotated[Path | None, typer.Option("--config", "-c", help="site YAML file whose store to use")]
JsonOption = Annotated[bool, typer.Option("--json", help="JSON on stdout")]
StdinOption = Annotated[bool, typer.Option("--password-stdin", help="read the password from stdin (one line)")]
UserArgument = Annotated[str, typer.Argument(help="the user's name")]


def _fail(message: str) -> typer.Exit:
    typer.echo(f"error: {message}", err=True)
    return typer.Exit(code=2)


def _say(text: str) -> None:
    typer.echo(text, err=True)


# --- users ---------------------------------------------------------------------------------------------------

@user_app.command("add")
def user_add(
    name: UserArgument,
    role: Annotated[str, typer.Option("--role", help="admin (users, settings), operator (acts on events) or "
                                                     "viewer (sees)")],
    camera: Annotated[list[str] | None, typer.Option(
        "--camera", help="a camera the user may see; repeat for several (default: every camera)")] = None,
    password_stdin: StdinOption = False,
    config: SiteOption = None,
    store: StoreOption = None,
    if_missing: Annotated[bool, typer.Option("--if-missing", help="a user of that name already there is no "
                                                                  "error: it is left as it is (scripts, the demo)")]
    = False,
) -> None:
    """Add a console user. The password is asked for twice (hidden), or read from stdin."""
    cameras = _known_cameras(camera, config, name)
    with _open_users(store, config, create=True) as users:
        if users is None:  # cannot be: the store is created
            raise _fail(f"user {name}: no event store to add it to")
        if users.get_user(name) is not None:  # before asking for a password that would be refused
            if if_missing:
                _say(f"user {name} is there already: left as it is")
                return
            raise _fail(f"user {name} exists already (gunwatch user passwd / remove)")
        password = _password(name, password_stdin)
        added = _act(users, name, lambda u: u.add_user(name, role, password, cameras))
    _say(f"added {added.role} {added.name}, {_cameras_text(added.cameras)}")


@user_app.command("list")
def user_list(config: SiteOption = None, store: StoreOption = None, as_json: JsonOption = False) -> None:
    """List the users: name, role, cameras, when added."""
    with _open_users(store, config, create=False) as users:
        listed = users.list_users() if users else []
    _say(_users_table(listed) if listed else "no users yet (gunwatch user add NAME --role admin)")
    if as_json:
        typer.echo(json.dumps([_user_json(user) for user in listed]))


@user_app.command("remove")
def user_remove(name: UserArgument, config: SiteOption = None, store: StoreOption = None) -> None:
    """Remove a user: its sessions end at once and its API tokens are revoked."""
    with _open_users(store, config, create=False) as users:
        _act(users, name, lambda u: u.remove_user(name))
    _say(f"removed user {name}; its sessions ended and its tokens are revoked")


@user_app.command("passwd")
def user_passwd(name: UserArgument, password_stdin: StdinOption = False, config: SiteOption = None,
                store: StoreOption = None) -> None:
    """Set a user's password; the user's sessions end (signed out everywhere)."""
    with _open_users(store, config, create=False) as users:
        if users is None or users.get_user(name) is None:
            raise _fail(f"no user {name} (gunwatch user list shows them)")
        password = _password(name, password_stdin)
        _act(users, name, lambda u: u.set_password(name, password))
    _say(f"new password for {name}; every session of {name} ended")


@user_app.command("access")
def user_access(
    name: UserArgument,
    role: Annotated[str | None, typer.Option("--role", help="the new role (default: unchanged)")] = None,
    camera: Annotated[list[str] | None, typer.Option(
        "--camera", help="the cameras the user may see from now on; repeat for several")] = None,
    all_cameras: Annotated[bool, typer.Option("--all-cameras", help="the user may see every camera")] = False,
    config: SiteOption = None,
    store: StoreOption = None,
) -> None:
    """Change a user's role or cameras; it applies to the user's sessions and tokens at their next request."""
    if camera and all_cameras:
        raise _fail("give --camera or --all-cameras, not both")
    from gunwatch.users.store import KEEP

    cameras = None if all_cameras else (_known_cameras(camera, config, name) if camera else KEEP)
    with _open_users(store, config, create=False) as users:
        changed = _act(users, name, lambda u: u.set_access(name, role, cameras))
    _say(f"{changed.name}: {changed.role}, {_cameras_text(changed.cameras)}")


@user_app.command("logout")
def user_logout(name: UserArgument, config: SiteOption = None, store: StoreOption = None) -> None:
    """Sign a user out everywhere (every browser; API tokens stay, see gunwatch token revoke)."""
    with _open_users(store, config, create=False) as users:
        ended = _act(users, name, lambda u: u.end_all_sessions(name))
    _say(f"signed {name} out everywhere ({ended} session{'' if ended == 1 else 's'} ended)")


# --- tokens --------------------------------------------------------------------------------------------------

@token_app.command("add")
def token_add(
    name: Annotated[str, typer.Argument(help="the token's name, e.g. the integration's (vms, psim)")],
    user: Annotated[str, typer.Option("--user", help="the user the token acts for (its cameras apply)")],
    scope: Annotated[list[str], typer.Option(
        "--scope", help="what the token may do, within the user's role: events:read, events:act, cameras:read, "
                        "live:read, admin; repeat for several")],
    days: Annotated[float | None, typer.Option(min=0.001, help="the token expires after this many days "
                                                               "(default: never; revoke it)")] = None,
    config: SiteOption = None,
    store: StoreOption = None,
) -> None:
    """Create an API token and print it once, on stdout: it is not stored, only its hash. Integrations send it
    as `Authorization: Bearer TOKEN`."""
    expires_at = None if days is None else time.time() + days * 86400
    with _open_users(store, config, create=False) as users:
        if users is None:
            raise _fail(f"no user {user} (gunwatch user list shows them)")
        token = _act(users, user, lambda u: u.create_token(name, user, scope, expires_at))
    typer.echo(token)
    until = "" if expires_at is None else f", until {_time(expires_at)}"
    _say(f"token {name} for {user} ({', '.join(sorted(scope))}{until}); it is shown only now: keep it")


@token_app.command("list")
def token_list(config: SiteOption = None, store: StoreOption = None, as_json: JsonOption = False) -> None:
    """List the API tokens (never their secrets): user, scopes, last use, expiry, revoked or not."""
    with _open_users(store, config, create=False) as users:
        listed = users.list_tokens() if users else []
    _say(_tokens_table(listed, time.time()) if listed else "no API tokens (gunwatch token add NAME --user U "
                                                            "--scope events:read)")
    if as_json:
        typer.echo(json.dumps([_token_json(token) for token in listed]))


@token_app.command("revoke")
def token_revoke(name: Annotated[str, typer.Argument(help="the token's name")], config: SiteOption = None,
                 store: StoreOption = None) -> None:
    """Revoke an API token: it stops working at once."""
    with _open_users(store, config, create=False) as users:
        if users is None:
            raise _fail(f"no token {name} (gunwatch token list shows them)")
        revoked = _act(users, name, lambda u: u.revoke_token(name))
    _say(f"revoked token {name}" if revoked else f"token {name} was revoked already")


# --- helpers -------------------------------------------------------------------------------------------------

@contextmanager
def _open_users(url: str | None, site_file: Path | None, create: bool) -> Iterator[UserStore | None]:
    """The site's user store; None when its SQLite file does not exist yet and `create` is false. Errors exit
    with code 2, saying what is wrong."""
    from gunwatch.config import ConfigError
    from gunwatch.events.store import EventStore, StoreError, StoreMissing
    from gunwatch.events.store.location import resolve_store_url
    from gunwatch.users.store import UserStore

    try:
        store = EventStore(resolve_store_url(url, site_file), create=create, upgrade=False)
    except ConfigError as error:
        for problem in error.problems:
            _say(f"error: {problem}")
        raise typer.Exit(code=2) from error
    except StoreMissing as error:
        _say(f"{error}: no users yet")
        yield None
        return
    except (StoreError, ValueError) as error:
        raise _fail(str(error)) from error
    try:
        yield UserStore(store)
    except StoreError as error:
        raise _fail(str(error)) from error
    finally:
        store.close()


def _act(users: UserStore | None, name: str, action: Callable[[UserStore], T]) -> T:
    """Run `action`; a UserError (or no store at all) ends the command with its message."""
    from gunwatch.users.records import UserError

    if users is None:
        raise _fail(f"no user {name} (gunwatch user list shows them)")
    try:
        return action(users)
    except UserError as error:
        raise _fail(str(error)) from None


def _password(name: str, from_stdin: bool) -> str:
    if from_stdin:
        line = sys.stdin.readline()
        return line[:-1] if line.endswith("\n") else line
    return typer.prompt(f"Password for {name}", hide_input=True, confirmation_prompt=True)


def _known_cameras(cameras: list[str] | None, site_file: Path | None, user: str) -> list[str] | None:
    """The cameras given, checked against the site file's when there is one: a misspelt camera would
    silently give the user nothing to see."""
    if not cameras or site_file is None:
        return cameras or None
    from gunwatch.config import ConfigError, load_site_config

    try:
        known = load_site_config(site_file).cameras
    except ConfigError as error:
        for problem in error.problems:
            _say(f"error: {problem}")
        raise typer.Exit(code=2) from error
    unknown = sorted(set(cameras) - set(known))
    if unknown:
        raise _fail(f"user {user}: {site_file} has no camera {', '.join(unknown)} (its cameras: "
                    f"{', '.join(sorted(known))})")
    return cameras


def _time(at: float | None) -> str:
    return "-" if at is None else datetime.fromtimestamp(at).astimezone().strftime("%Y-%m-%d %H:%M %Z")


def _cameras_text(cameras: frozenset[str] | None) -> str:
    return "every camera" if cameras is None else f"cameras {', '.join(sorted(cameras)) or '(none)'}"


def _users_table(users: list[UserInfo]) -> str:
    rows = [("NAME", "ROLE", "CAMERAS", "ADDED")]
    rows += [(u.name, u.role, "all" if u.cameras is None else ",".join(sorted(u.cameras)), _time(u.created_at))
             for u in users]
    return _table(rows)


def _tokens_table(tokens: list[TokenInfo], now: float) -> str:
    rows = [("NAME", "USER", "SCOPES", "CREATED", "LAST USED", "EXPIRES", "STATE")]
    rows += [(t.name, t.user, ",".join(sorted(t.scopes)), _time(t.created_at), _time(t.last_used_at),
              _time(t.expires_at), _token_state(t, now)) for t in tokens]
    return _table(rows)


def _token_state(token: TokenInfo, now: float) -> str:
    if token.revoked_at is not None:
        return "revoked"
    return "active" if token.active(now) else "expired"


def _table(rows: list[tuple[str, ...]]) -> str:
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    return "\n".join("  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip()
                     for row in rows)


def _user_json(user: UserInfo) -> dict[str, object]:
    return {"name": user.name, "role": user.role, "cameras": None if user.cameras is None else sorted(user.cameras),
            "created_at": user.created_at, "updated_at": user.updated_at}


def _token_json(token: TokenInfo) -> dict[str, object]:
    return {"name": token.name, "user": token.user, "scopes": sorted(token.scopes), "created_at": token.created_at,
            "last_used_at": token.last_used_at, "expires_at": token.expires_at, "revoked_at": token.revoked_at,
            "state": _token_state(token, time.time())}
