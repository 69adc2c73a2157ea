"""The user store on SQLite and PostgreSQL: users, sign-in, sessions, API tokens, and the audit log they write."""

from __future__ import annotations

from typing import Any

import pytest
from argon2 import PasswordHasher
from sqlalchemy import select

from gunwatch.events.store import EventStore
from gunwatch.events.store.schema import USER_ROLES, ApiTokenRow, AuditRow, UserRow, UserSessionRow
from gunwatch.users.passwords import Passwords
from gunwatch.users.principal import ROLE_SCOPES, ROLES, Principal, user_principal
from gunwatch.users.records import UserError
from gunwatch.users.store import TOUCH_EVERY_S, UserStore
from users.conftest import PASSWORD, Clock

HOUR = 3600.0
OTHER_PASSWORD = "another long pass phrase"


def audit(store: EventStore) -> list[tuple[str, str, dict[str, Any]]]:
    with store.read_session() as session:
        return [(row.actor, row.action, dict(row.detail))
                for row in session.scalars(select(AuditRow).order_by(AuditRow.id))]


def actions(store: EventStore) -> list[str]:
    return [action for _, action, _ in audit(store)]


def test_the_schema_knows_the_same_roles_as_the_principal() -> None:
    assert USER_ROLES == ROLES


# --- users ---------------------------------------------------------------------------------------------------

def test_users_are_added_listed_and_removed(users: UserStore, store: EventStore) -> None:
    users.add_user("ana", "operator", PASSWORD, ["lobby", "gym"])
    users.add_user("ben", "admin", PASSWORD)
    listed = users.list_users()
    assert [(u.name, u.role, u.cameras) for u in listed] == [
        ("ana", "operator", frozenset({"lobby", "gym"})), ("ben", "admin", None)]
    users.remove_user("ana")
    assert [u.name for u in users.list_users()] == ["ben"]
    assert users.get_user("ana") is None
    assert actions(store) == ["user.added", "user.added", "user.removed"]
    actor, _, detail = audit(store)[0]
    assert actor.startswith("cli")
    assert detail == {"user": "ana", "role": "operator", "cameras": ["gym", "lobby"]}


def test_the_password_is_stored_only_as_an_argon2_hash(users: UserStore, store: EventStore) -> None:
    users.add_user("ana", "viewer", PASSWORD)
    with store.read_session() as session:
        row = session.get(UserRow, "ana")
        assert row is not None and row.password_hash.startswith("$argon2id$") and PASSWORD not in row.password_hash


def test_a_change_made_by_a_principal_is_audited_with_its_actor(users: UserStore, store: EventStore) -> None:
    admin = user_principal("root", "admin", None)
    users.add_user("ana", "viewer", PASSWORD, by=admin)
    assert audit(store)[0][0] == "user:root"


@pytest.mark.parametrize(("call", "message"), [
    (lambda u: u.add_user("ana", "operator", PASSWORD), "user ana exists already"),
    (lambda u: u.add_user("bob", "guard", PASSWORD), "user bob: no role 'guard'; the roles are admin, operator"),
    (lambda u: u.add_user("bob", "viewer", "short"), "user bob: a password needs at least 12 characters"),
    (lambda u: u.add_user("bo b", "viewer", PASSWORD), "user name 'bo b' is not usable"),
    (lambda u: u.add_user("bob", "viewer", PASSWORD, "lobby"), "user bob: give cameras as a list"),
    (lambda u: u.add_user("bob", "viewer", PASSWORD, [""]), "user bob: camera names must be 1 to 200"),
    (lambda u: u.remove_user("zed"), "no user zed"),
    (lambda u: u.set_password("zed", PASSWORD), "no user zed"),
    (lambda u: u.set_password("ana", "short"), "user ana: a password needs at least 12"),
    (lambda u: u.set_access("zed", "viewer"), "no user zed"),
    (lambda u: u.end_all_sessions("zed"), "no user zed"),
    (lambda u: u.start_session("zed"), "no user zed"),
])
def test_bad_input_is_refused_naming_the_user(users: UserStore, call: Any, message: str) -> None:
    users.add_user("ana", "operator", PASSWORD)
    with pytest.raises(UserError, match=message.replace("(", r"\(")):
        call(users)


def test_access_changes_apply_to_a_running_session(users: UserStore) -> None:
    users.add_user("ana", "operator", PASSWORD, ["lobby"])
    secret, _ = users.start_session("ana")
    assert users.session(secret).principal.cameras == frozenset({"lobby"})  # type: ignore[union-attr]
    users.set_access("ana", cameras=None)
    assert users.session(secret).principal.cameras is None  # type: ignore[union-attr]
    info = users.set_access("ana", role="viewer")
    assert (info.role, info.cameras) == ("viewer", None)  # cameras kept
    principal = users.session(secret).principal  # type: ignore[union-attr]
    assert (principal.role, principal.scopes) == ("viewer", ROLE_SCOPES["viewer"])


# --- sign-in -------------------------------------------------------------------------------------------------

def test_the_right_password_signs_in_with_the_users_role_and_cameras(users: UserStore) -> None:
    users.add_user("ana", "operator", PASSWORD, ["lobby"])
    principal = users.authenticate("ana", PASSWORD)
    assert principal == Principal("ana", "operator", ROLE_SCOPES["operator"], frozenset({"lobby"}), "session")
    assert principal.sees("lobby") and not principal.sees("gym")


def test_a_wrong_password_or_an_unknown_user_signs_nobody_in_and_is_audited(users: UserStore,
                                                                            store: EventStore) -> None:
    users.add_user("ana", "operator", PASSWORD)
    assert users.authenticate("ana", OTHER_PASSWORD, "192.0.2.7") is None
    assert users.authenticate("nobody", PASSWORD, "192.0.2.8") is None
    failed = [(actor, detail) for actor, action, detail in audit(store) if action == "session.sign_in_failed"]
    assert failed == [("console", {"user": "ana", "address": "192.0.2.7"}),
                      ("console", {"user": "nobody", "address": "192.0.2.8"})]


def test_a_hash_with_older_parameters_is_redone_at_sign_in(store: EventStore, clock: Clock,
                                                           cheap_passwords: Passwords) -> None:
    UserStore(store, passwords=cheap_passwords, clock=clock).add_user("ana", "viewer", PASSWORD)
    stronger = Passwords(PasswordHasher(time_cost=1, memory_cost=16, parallelism=1))
    users = UserStore(store, passwords=stronger, clock=clock)
    assert users.authenticate("ana", PASSWORD) is not None
    with store.read_session() as session:
        stored = session.get(UserRow, "ana").password_hash  # type: ignore[union-attr]
    assert stored.startswith("$argon2id$v=19$m=16,t=1,p=1$")
    assert not stronger.needs_rehash(stored)
    assert users.authenticate("ana", PASSWORD) is not None
    assert actions(store).count("user.password_rehashed") == 1


# --- sessions ------------------------------------------------------------------------------------------------

def test_a_session_is_known_by_its_secret_which_is_never_stored(users: UserStore, store: EventStore) -> None:
    users.add_user("ana", "viewer", PASSWORD)
    secret, csrf = users.start_session("ana", "192.0.2.7")
    active = users.session(secret)
    assert active is not None and active.principal.name == "ana" and active.csrf == csrf
    assert users.session(secret + "x") is None
    with store.read_session() as session:
        [row] = session.scalars(select(UserSessionRow)).all()
    assert secret not in row.id and row.address == "192.0.2.7" and len(row.id) == 64


def test_every_sign_in_gets_a_new_session(users: UserStore) -> None:
    users.add_user("ana", "viewer", PASSWORD)
    first, second = users.start_session("ana"), users.start_session("ana")
    assert first.secret != second.secret and first.csrf != second.csrf


def test_a_session_expires_unless_used_and_each_use_moves_its_expiry_on(users: UserStore, clock: Clock) -> None:
    users.add_user("ana", "viewer", PASSWORD)
    used, idle = users.start_session("ana"), users.start_session("ana")
    for _ in range(3):  # 3 x 1.5 h: beyond the 2 h of one session, and used all along
        clock.advance(1.5 * HOUR)
        assert users.session(used.secret) is not None
    assert users.session(idle.secret) is None
    clock.advance(2 * HOUR)
    assert users.session(used.secret) is None


def test_a_use_within_a_minute_does_not_write(users: UserStore, store: EventStore, clock: Clock) -> None:
    users.add_user("ana", "viewer", PASSWORD)
    secret, _ = users.start_session("ana")

    def expires_at() -> float:
        with store.read_session() as session:
            return session.scalars(select(UserSessionRow.expires_at)).one()

    started = expires_at()
    clock.advance(TOUCH_EVERY_S / 2)
    users.session(secret)
    assert expires_at() == started
    clock.advance(TOUCH_EVERY_S / 2)
    users.session(secret)
    assert expires_at() == started + TOUCH_EVERY_S


def test_ending_a_session_ends_only_that_one(users: UserStore, store: EventStore) -> None:
    users.add_user("ana", "viewer", PASSWORD)
    phone, desk = users.start_session("ana"), users.start_session("ana")
    assert users.end_session(phone.secret)
    assert not users.end_session(phone.secret)
    assert users.session(phone.secret) is None
    assert users.session(desk.secret) is not None
    assert actions(store)[-1] == "session.ended"


def test_signing_out_everywhere_ends_every_session_of_the_user_only(users: UserStore, store: EventStore) -> None:
    users.add_user("ana", "viewer", PASSWORD)
    users.add_user("ben", "viewer", PASSWORD)
    ana = [users.start_session("ana") for _ in range(2)]
    ben = users.start_session("ben")
    assert users.end_all_sessions("ana") == 2
    assert [users.session(s.secret) for s in ana] == [None, None]
    assert users.session(ben.secret) is not None
    assert users.session(users.start_session("ana").secret) is not None  # signing in again works
    assert audit(store)[-2][1:] == ("user.signed_out_everywhere", {"user": "ana", "sessions_ended": 2})


def test_a_new_password_ends_the_users_sessions(users: UserStore) -> None:
    users.add_user("ana", "viewer", PASSWORD)
    secret, _ = users.start_session("ana")
    users.set_password("ana", OTHER_PASSWORD)
    assert users.session(secret) is None
    assert users.authenticate("ana", PASSWORD) is None
    assert users.authenticate("ana", OTHER_PASSWORD) is not None


def test_a_removed_user_signs_in_nowhere_even_when_added_again(users: UserStore) -> None:
    users.add_user("ana", "admin", PASSWORD)
    secret, _ = users.start_session("ana")
    token = users.create_token("vms", "ana", ["events:read"])
    users.remove_user("ana")
    assert users.session(secret) is None and users.token_principal(token) is None
    users.add_user("ana", "viewer", PASSWORD)
    assert users.session(secret) is None and users.token_principal(token) is None


def test_a_session_row_planted_before_a_sign_out_everywhere_does_not_count(users: UserStore, store: EventStore,
                                                                         clock: Clock) -> None:
    """A session being written while the user was signed out everywhere (another process) is not honoured."""
    users.add_user("ana", "viewer", PASSWORD)
    secret, _ = users.start_session("ana")
    with store.read_session() as session:
        row = session.scalars(select(UserSessionRow)).one()
        copy = {c.name: getattr(row, c.name) for c in UserSessionRow.__table__.columns}
    clock.advance(1)
    users.end_all_sessions("ana")
    with store.write_session.begin() as session:
        session.add(UserSessionRow(**copy))
    assert users.session(secret) is None


# --- API tokens ----------------------------------------------------------------------------------------------

def test_a_token_acts_for_its_user_with_its_own_scopes_and_the_users_cameras(users: UserStore,
                                                                             store: EventStore) -> None:
    users.add_user("ana", "operator", PASSWORD, ["lobby"])
    token = users.create_token("vms", "ana", ["events:read", "cameras:read"])
    assert token.startswith("gwt_")
    principal = users.token_principal(token)
    assert principal == Principal("ana", "operator", frozenset({"events:read", "cameras:read"}),
                                  frozenset({"lobby"}), "token", "vms")
    assert principal.actor == "token:vms (user:ana)"
    assert not principal.may("events:act")
    with store.read_session() as session:
        row = session.scalars(select(ApiTokenRow)).one()
    assert row.secret_hash not in token and token.split("_", 2)[2] not in row.secret_hash
    assert [(t.name, t.user, t.scopes) for t in users.list_tokens()] == [
        ("vms", "ana", frozenset({"events:read", "cameras:read"}))]


@pytest.mark.parametrize("broken", ["", "gwt_", "gwt_0123456789abcdef_", "Bearer x", "gwt_0123456789abcdef_nope",
                                    "xyz_0123456789abcdef_secret"])
def test_anything_but_a_token_given_is_no_principal(users: UserStore, broken: str) -> None:
    users.add_user("ana", "operator", PASSWORD)
    users.create_token("vms", "ana", ["events:read"])
    assert users.token_principal(broken) is None


def test_a_token_with_a_wrong_secret_is_refused(users: UserStore) -> None:
    users.add_user("ana", "operator", PASSWORD)
    token = users.create_token("vms", "ana", ["events:read"])
    assert users.token_principal(token[:-2] + ("AA" if not token.endswith("AA") else "BB")) is None


def test_a_token_may_not_be_given_more_than_its_users_role(users: UserStore) -> None:
    users.add_user("vic", "viewer", PASSWORD)
    with pytest.raises(UserError, match="token t: user vic is viewer and cannot give a token events:act"):
        users.create_token("t", "vic", ["events:read", "events:act"])
    with pytest.raises(UserError, match="token t: no scope events:delete"):
        users.create_token("t", "vic", ["events:delete"])
    with pytest.raises(UserError, match="token t: give at least one scope"):
        users.create_token("t", "vic", [])
    with pytest.raises(UserError, match="no user zed"):
        users.create_token("t", "zed", ["events:read"])
    assert users.list_tokens() == []


def test_a_token_narrows_when_its_user_is_demoted(users: UserStore) -> None:
    users.add_user("ana", "operator", PASSWORD)
    token = users.create_token("psim", "ana", ["events:read", "events:act"])
    users.set_access("ana", role="viewer")
    assert users.token_principal(token).scopes == frozenset({"events:read"})  # type: ignore[union-attr]


def test_a_revoked_token_is_refused_and_its_name_can_be_used_again(users: UserStore, store: EventStore) -> None:
    users.add_user("ana", "operator", PASSWORD)
    old = users.create_token("vms", "ana", ["events:read"])
    with pytest.raises(UserError, match="token vms exists already"):
        users.create_token("vms", "ana", ["events:read"])
    assert users.revoke_token("vms")
    assert not users.revoke_token("vms")
    assert users.token_principal(old) is None
    new = users.create_token("vms", "ana", ["events:read"])
    assert users.token_principal(new) is not None and users.token_principal(old) is None
    assert actions(store) == ["user.added", "token.created", "token.revoked", "token.created"]
    with pytest.raises(UserError, match="no token nope"):
        users.revoke_token("nope")


def test_a_token_expires(users: UserStore, clock: Clock) -> None:
    users.add_user("ana", "operator", PASSWORD)
    token = users.create_token("vms", "ana", ["events:read"], expires_at=clock() + HOUR)
    assert users.token_principal(token) is not None
    clock.advance(HOUR)
    assert users.token_principal(token) is None
    with pytest.raises(UserError, match="token old: its expiry is in the past"):
        users.create_token("old", "ana", ["events:read"], expires_at=clock())


def test_a_tokens_last_use_is_recorded(users: UserStore, clock: Clock) -> None:
    users.add_user("ana", "operator", PASSWORD)
    token = users.create_token("vms", "ana", ["events:read"])
    assert users.list_tokens()[0].last_used_at is None
    clock.advance(5)
    users.token_principal(token)
    assert users.list_tokens()[0].last_used_at == clock()
