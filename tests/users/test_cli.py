"""`gunwatch user ...` and `gunwatch token ...` through typer's CliRunner, on a real store (SQLite; the store's
own tests cover PostgreSQL)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from gunwatch.events.store import EventStore
from gunwatch.users.cli import token_app, user_app
from gunwatch.users.store import UserStore
from users.conftest import PASSWORD

# As gunwatch.cli registers them.
app = typer.Typer()
app.add_typer(user_app, name="user")
app.add_typer(token_app, name="token")


@pytest.fixture
def url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'site.db'}"


def run(*args: str | Path, stdin: str | None = None):
    return CliRunner().invoke(app, [str(arg) for arg in args], input=stdin)


def add(url: str, name: str, role: str, *more: str):
    return run("user", "add", name, "--role", role, *more, "--password-stdin", "--store", url, stdin=PASSWORD + "\n")


def users_of(url: str) -> UserStore:
    return UserStore(EventStore(url, create=False))


def test_add_list_and_remove_users(url: str) -> None:
    assert add(url, "ana", "operator", "--camera", "lobby", "--camera", "gym").exit_code == 0
    result = add(url, "root", "admin")
    assert result.exit_code == 0, result.stderr
    assert result.stderr == "added admin root, every camera\n"
    listed = run("user", "list", "--store", url, "--json")
    assert listed.exit_code == 0
    assert [(u["name"], u["role"], u["cameras"]) for u in json.loads(listed.stdout)] == [
        ("ana", "operator", ["gym", "lobby"]), ("root", "admin", None)]
    assert "ana   operator  gym,lobby" in listed.stderr
    assert run("user", "remove", "ana", "--store", url).exit_code == 0
    assert [u.name for u in users_of(url).list_users()] == ["root"]


def test_the_password_is_asked_twice_hidden(url: str) -> None:
    result = run("user", "add", "ana", "--role", "viewer", "--store", url, stdin=f"{PASSWORD}\n{PASSWORD}\n")
    assert result.exit_code == 0, result.stderr
    assert PASSWORD not in result.output
    assert users_of(url).authenticate("ana", PASSWORD) is not None


def test_two_different_passwords_are_not_taken(url: str) -> None:
    result = run("user", "add", "ana", "--role", "viewer", "--store", url, stdin=f"{PASSWORD}\n{PASSWORD}x\n")
    assert result.exit_code != 0
    assert "do not match" in result.output
    assert users_of(url).get_user("ana") is None


@pytest.mark.parametrize(("args", "stdin", "message"), [
    (["user", "add", "ana", "--role", "guard", "--password-stdin"], PASSWORD, "user ana: no role 'guard'"),
    (["user", "add", "ana", "--role", "viewer", "--password-stdin"], "short", "user ana: a password needs at least 12"),
    (["user", "add", "root", "--role", "viewer", "--password-stdin"], PASSWORD, "user root exists already"),
    (["user", "remove", "zed"], None, "no user zed"),
    (["user", "passwd", "zed", "--password-stdin"], PASSWORD, "no user zed"),
    (["user", "logout", "zed"], None, "no user zed"),
    (["user", "access", "zed", "--role", "viewer"], None, "no user zed"),
    (["user", "access", "root", "--camera", "lobby", "--all-cameras"], None, "--camera or --all-cameras"),
    (["token", "add", "vms", "--user", "zed", "--scope", "events:read"], None, "no user zed"),
    (["token", "revoke", "nope"], None, "no token nope"),
])
def test_mistakes_exit_2_with_a_clear_error(url: str, args: list[str], stdin: str | None, message: str) -> None:
    add(url, "root", "admin")
    result = run(*args, "--store", url, stdin=None if stdin is None else stdin + "\n")
    assert result.exit_code == 2, result.output
    assert result.stderr.startswith("error: ") and message in result.stderr


def test_passwd_sets_a_new_password_and_signs_the_user_out(url: str) -> None:
    add(url, "ana", "viewer")
    secret, _ = users_of(url).start_session("ana")
    result = run("user", "passwd", "ana", "--password-stdin", "--store", url, stdin="a brand new pass phrase\n")
    assert result.exit_code == 0, result.stderr
    users = users_of(url)
    assert users.session(secret) is None
    assert users.authenticate("ana", "a brand new pass phrase") is not None


def test_logout_signs_the_user_out_everywhere(url: str) -> None:
    add(url, "ana", "viewer")
    secrets = [users_of(url).start_session("ana").secret for _ in range(2)]
    result = run("user", "logout", "ana", "--store", url)
    assert (result.exit_code, result.stderr) == (0, "signed ana out everywhere (2 sessions ended)\n")
    assert [users_of(url).session(secret) for secret in secrets] == [None, None]


def test_access_changes_the_role_and_cameras(url: str) -> None:
    add(url, "ana", "viewer")
    assert run("user", "access", "ana", "--role", "operator", "--camera", "lobby", "--store", url).exit_code == 0
    info = users_of(url).get_user("ana")
    assert (info.role, info.cameras) == ("operator", frozenset({"lobby"}))  # type: ignore[union-attr]
    assert run("user", "access", "ana", "--all-cameras", "--store", url).exit_code == 0
    assert users_of(url).get_user("ana").cameras is None  # type: ignore[union-attr]


def test_a_token_is_printed_once_works_and_is_revoked(url: str) -> None:
    add(url, "ana", "operator", "--camera", "lobby")
    result = run("token", "add", "vms", "--user", "ana", "--scope", "events:read", "--scope", "cameras:read",
                 "--days", "30", "--store", url)
    assert result.exit_code == 0, result.stderr
    token = result.stdout.strip()
    assert token.startswith("gwt_") and "shown only now" in result.stderr
    principal = users_of(url).token_principal(token)
    assert principal is not None and principal.cameras == frozenset({"lobby"})
    listed = run("token", "list", "--store", url, "--json")
    [entry] = json.loads(listed.stdout)
    assert (entry["name"], entry["user"], entry["scopes"], entry["state"]) == (
        "vms", "ana", ["cameras:read", "events:read"], "active")
    assert token not in listed.output and token.split("_", 2)[2] not in listed.output
    assert run("token", "revoke", "vms", "--store", url).stderr == "revoked token vms\n"
    assert run("token", "revoke", "vms", "--store", url).stderr == "token vms was revoked already\n"
    assert users_of(url).token_principal(token) is None
    assert "revoked" in run("token", "list", "--store", url).stderr


def test_a_token_beyond_the_users_role_is_refused(url: str) -> None:
    add(url, "vic", "viewer")
    result = run("token", "add", "t", "--user", "vic", "--scope", "events:act", "--store", url)
    assert result.exit_code == 2
    assert "token t: user vic is viewer and cannot give a token events:act" in result.stderr
    assert result.stdout == ""


def test_reading_a_store_that_does_not_exist_yet_says_so(url: str) -> None:
    result = run("user", "list", "--store", url, "--json")
    assert result.exit_code == 0
    assert "no users yet" in result.stderr and json.loads(result.stdout) == []
    assert run("user", "remove", "ana", "--store", url).exit_code == 2


def test_the_site_file_gives_the_store_and_its_cameras(tmp_path: Path, url: str) -> None:
    site = tmp_path / "site.yaml"
    site.write_text(f"cameras:\n  lobby:\n    url: rtsp://cam/lobby\n  gym:\n    url: rtsp://cam/gym\n"
                    f"store:\n  url: {url}\n")
    assert add(url, "root", "admin").exit_code == 0
    result = run("user", "add", "ana", "--role", "viewer", "--camera", "lobby", "--camera", "lobbby",
                 "--password-stdin", "--config", site, stdin=PASSWORD + "\n")
    assert result.exit_code == 2
    assert f"user ana: {site} has no camera lobbby (its cameras: gym, lobby)" in result.stderr
    result = run("user", "add", "ana", "--role", "viewer", "--camera", "lobby", "--password-stdin", "--config", site,
                 stdin=PASSWORD + "\n")
    assert result.exit_code == 0, result.stderr
    assert [u.name for u in users_of(url).list_users()] == ["ana", "root"]
    assert json.loads(run("user", "list", "--config", site, "--json").stdout)[0]["cameras"] == ["lobby"]


def test_if_missing_leaves_a_user_that_is_there_as_it_is(url: str) -> None:
    assert add(url, "demo", "operator").exit_code == 0
    again = run("user", "add", "demo", "--role", "viewer", "--if-missing", "--password-stdin", "--store", url,
                stdin="another password 2\n")
    assert again.exit_code == 0 and "left as it is" in again.stderr
    [demo] = users_of(url).list_users()
    assert demo.role == "operator" and users_of(url).authenticate("demo", PASSWORD) is not None
    assert add(url, "demo", "operator").exit_code != 0  # without the flag it is still an error
