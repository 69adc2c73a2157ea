"""The console's sign-in, sessions, CSRF checks and API tokens, through a real FastAPI app and TestClient.

No `from __future__ import annotations` here: the test app's routes take their dependencies from a local
`auth` in `Annotated`, which FastAPI can only read when the annotations are objects.
"""

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated, Any

import pytest
from argon2 import PasswordHasher
from argon2.profiles import CHEAPEST
from fastapi import Depends, FastAPI
from fastapi.responses import PlainTextResponse
from fastapi.testclient import TestClient
from pydantic import BaseModel

from gunwatch.config.console import ConsoleSettings
from gunwatch.events.store import EventStore
from gunwatch.users.passwords import Passwords
from gunwatch.users.principal import Principal
from gunwatch.users.rate_limit import LoginLimiter
from gunwatch.users.store import UserStore
from gunwatch.web.auth import LOGIN_COOKIE, SESSION_COOKIE, ConsoleAuth, console_auth, local_path
from users.conftest import PASSWORD, Clock

HOUR = 3600.0


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def users(tmp_path: Path, clock: Clock) -> Iterator[UserStore]:
    with EventStore(f"sqlite:///{tmp_path / 'store.db'}") as store:
        users = UserStore(store, session_hours=2.0, passwords=Passwords(PasswordHasher.from_parameters(CHEAPEST)),
                          clock=clock)
        users.add_user("ana", "operator", PASSWORD, ["lobby"])
        users.add_user("vic", "viewer", PASSWORD)
        yield users


def make_app(users: UserStore, settings: ConsoleSettings, limiter: LoginLimiter | None = None) -> FastAPI:
    """A console in miniature: a page, and API routes that read and act."""
    auth = ConsoleAuth(users, settings, limiter)
    app = FastAPI()
    auth.install(app)

    @app.get("/wall")
    def wall(principal: Annotated[Principal, Depends(auth.principal)]) -> PlainTextResponse:
        return PlainTextResponse(principal.actor)

    @app.get("/api/whoami")
    def whoami(principal: Annotated[Principal, Depends(auth.require("events:read"))]) -> dict[str, Any]:
        cameras = None if principal.cameras is None else sorted(principal.cameras)
        return {"actor": principal.actor, "cameras": cameras, "scopes": sorted(principal.scopes)}

    @app.post("/api/events/e1/ack")
    def ack(principal: Annotated[Principal, Depends(auth.require("events:act"))],
            form: Annotated[dict[str, str], Depends(auth.checked_form)]) -> dict[str, str]:
        return {"by": principal.actor, "note": form.get("note", "")}

    @app.post("/api/events/e1/note")
    def note(principal: Annotated[Principal, Depends(auth.csrf_checked)], body: Note) -> dict[str, str]:
        return {"by": principal.actor, "note": body.text}

    return app


class Note(BaseModel):
    text: str


SETTINGS = ConsoleSettings(session_hours=2.0, login_attempts=3, login_window_s=60.0)


@pytest.fixture
def app(users: UserStore) -> FastAPI:
    return make_app(users, SETTINGS)


def client(app: FastAPI, base_url: str = "http://testserver") -> TestClient:
    return TestClient(app, base_url=base_url, follow_redirects=False)


def login_form(browser: TestClient, next_path: str = "/") -> str:
    """Opens the sign-in page (which sets its nonce cookie) and gives the form's CSRF token."""
    page = browser.get("/login", params={"next": next_path})
    assert page.status_code == 200
    return re.search(r'name="csrf" value="([^"]+)"', page.text).group(1)  # type: ignore[union-attr]


def sign_in(browser: TestClient, name: str = "ana", password: str = PASSWORD, next_path: str = "/wall",
            **headers: str) -> Any:
    csrf = login_form(browser, next_path)
    return browser.post("/login", data={"csrf": csrf, "name": name, "password": password, "next": next_path},
                        headers=headers)


def session_csrf(users: UserStore, browser: TestClient) -> str:
    return users.session(browser.cookies[SESSION_COOKIE]).csrf  # type: ignore[union-attr]


# --- without a credential ------------------------------------------------------------------------------------

def test_a_page_without_a_session_leads_to_the_sign_in_page_and_back(app: FastAPI) -> None:
    answer = client(app).get("/wall", params={"camera": "lobby"})
    assert (answer.status_code, answer.headers["location"]) == (303, "/login?next=/wall%3Fcamera%3Dlobby")


def test_the_api_without_a_credential_answers_401_json(app: FastAPI) -> None:
    answer = client(app).get("/api/whoami")
    assert answer.status_code == 401
    assert answer.headers["www-authenticate"] == "Bearer"
    assert "sign in, or give an API token" in answer.json()["detail"]


def test_the_sign_in_page_is_self_contained_and_escapes_what_it_shows(app: FastAPI) -> None:
    browser = client(app)
    page = browser.get("/login", params={"next": '/x"><script>alert(1)</script>'})
    assert page.status_code == 200
    assert "<script>" not in page.text and "&lt;script&gt;" in page.text
    assert 'type="password"' in page.text and 'name="viewport"' in page.text
    assert not re.search(r'(src|href)="(https?:)?//', page.text)  # nothing loaded from elsewhere
    assert "default-src 'none'" in page.headers["content-security-policy"]
    assert page.headers["x-frame-options"] == "DENY"
    assert browser.cookies.get(LOGIN_COOKIE)


# --- signing in ----------------------------------------------------------------------------------------------

def test_the_right_password_signs_in_with_a_strict_http_only_cookie(app: FastAPI) -> None:
    browser = client(app)
    answer = sign_in(browser)
    assert (answer.status_code, answer.headers["location"]) == (303, "/wall")
    cookie = next(c for c in answer.headers.get_list("set-cookie") if c.startswith(f"{SESSION_COOKIE}="))
    assert re.search(r"HttpOnly", cookie, re.I) and re.search(r"SameSite=strict", cookie, re.I)
    assert "Path=/;" in cookie or cookie.endswith("Path=/")
    assert "Max-Age=7200" in cookie and "secure" not in cookie.lower()  # plain HTTP on loopback
    assert browser.get("/wall").text == "user:ana"


def test_cookies_are_secure_behind_an_https_proxy(users: UserStore) -> None:
    browser = client(make_app(users, ConsoleSettings(behind_proxy=True, session_hours=2.0)), "https://testserver")
    answer = sign_in(browser)
    cookie = next(c for c in answer.headers.get_list("set-cookie") if c.startswith(f"{SESSION_COOKIE}="))
    assert "secure" in cookie.lower()
    assert browser.get("/wall").text == "user:ana"


@pytest.mark.parametrize(("name", "password"), [("ana", "not her password at all"), ("nobody", PASSWORD)])
def test_a_wrong_password_and_an_unknown_user_get_the_same_answer(app: FastAPI, name: str, password: str) -> None:
    browser = client(app)
    answer = sign_in(browser, name, password)
    assert answer.status_code == 401
    assert "Wrong user name or password." in answer.text
    assert SESSION_COOKIE not in browser.cookies


@pytest.mark.parametrize(("target", "expected"), [
    ("/wall?camera=lobby", "/wall?camera=lobby"),
    ("/events/e1", "/events/e1"),
    (None, "/"), ("", "/"), ("wall", "/"),
    ("//evil.example/x", "/"), ("/\\evil.example", "/"), ("https://evil.example/", "/"),
    ("/%0d%0aSet-Cookie:x", "/%0d%0aSet-Cookie:x"), ("/x\r\nLocation: //evil", "/"),
    ("/login", "/"), ("/logout/all", "/"),
])
def test_a_sign_in_only_leads_to_a_local_path(target: str | None, expected: str) -> None:
    assert local_path(target) == expected


def test_a_sign_in_asking_to_go_elsewhere_goes_home(app: FastAPI) -> None:
    answer = sign_in(client(app), next_path="//evil.example/")
    assert (answer.status_code, answer.headers["location"]) == (303, "/")


# --- session fixation, signing out, expiry -------------------------------------------------------------------

def test_a_session_planted_before_the_sign_in_is_not_the_one_after_and_stops_working(app: FastAPI) -> None:
    """Session fixation: someone signs in and slips their session cookie into another person's browser; that
    person's sign-in must neither keep nor join it."""
    attacker = client(app)
    sign_in(attacker, "vic")
    planted = attacker.cookies[SESSION_COOKIE]
    browser = client(app)
    browser.cookies.set(SESSION_COOKIE, planted, domain="testserver.local")
    assert browser.get("/wall").text == "user:vic"
    sign_in(browser)
    after = browser.cookies[SESSION_COOKIE]  # one cookie: the sign-in replaced the planted one
    assert after != planted
    assert browser.get("/wall").text == "user:ana"
    assert attacker.get("/wall").status_code == 303


def test_each_sign_in_gets_a_new_session_and_the_one_before_stops_working(app: FastAPI) -> None:
    browser = client(app)
    sign_in(browser)
    first = browser.cookies[SESSION_COOKIE]
    sign_in(browser)
    second = browser.cookies[SESSION_COOKIE]
    assert second != first
    old = client(app)
    old.cookies.set(SESSION_COOKIE, first)
    assert old.get("/wall").status_code == 303
    assert browser.get("/wall").text == "user:ana"


def test_signing_out_ends_the_session(app: FastAPI, users: UserStore) -> None:
    browser = client(app)
    sign_in(browser)
    secret = browser.cookies[SESSION_COOKIE]
    answer = browser.post("/logout", data={"csrf": session_csrf(users, browser)})
    assert (answer.status_code, answer.headers["location"]) == (303, "/login")
    assert SESSION_COOKIE not in browser.cookies
    assert users.session(secret) is None
    assert browser.get("/wall").status_code == 303


def test_signing_out_everywhere_ends_every_session_of_the_user(app: FastAPI, users: UserStore) -> None:
    phone, desk, other = client(app), client(app), client(app)
    sign_in(phone)
    sign_in(desk)
    sign_in(other, "vic")
    assert desk.post("/logout/all", data={"csrf": session_csrf(users, desk)}).status_code == 303
    assert phone.get("/wall").status_code == 303
    assert desk.get("/wall").status_code == 303
    assert other.get("/wall").text == "user:vic"


def test_signing_out_needs_the_sessions_csrf_token(app: FastAPI, users: UserStore) -> None:
    browser = client(app)
    sign_in(browser)
    assert browser.post("/logout/all", data={"csrf": "guess"}).status_code == 403
    assert browser.post("/logout", data={}).status_code == 403
    assert browser.get("/wall").text == "user:ana"


def test_a_session_unused_for_session_hours_expires_and_one_in_use_lasts(app: FastAPI, clock: Clock) -> None:
    used, idle = client(app), client(app)
    sign_in(used)
    sign_in(idle)
    for _ in range(3):  # 3 x 1.5 h, more than the 2 h of a session
        clock.advance(1.5 * HOUR)
        answer = used.get("/wall")
        assert answer.text == "user:ana"
        assert any(c.startswith(f"{SESSION_COOKIE}=") and "Max-Age=7200" in c
                   for c in answer.headers.get_list("set-cookie"))  # the browser's copy slides too
    answer = idle.get("/wall")
    assert (answer.status_code, answer.headers["location"]) == (303, "/login?next=/wall")


# --- CSRF ----------------------------------------------------------------------------------------------------

def test_an_action_with_the_sessions_token_goes_through_in_the_form_or_the_header(app: FastAPI,
                                                                                  users: UserStore) -> None:
    browser = client(app)
    sign_in(browser)
    csrf = session_csrf(users, browser)
    assert browser.post("/api/events/e1/ack", data={"csrf": csrf, "note": "on it"}).json() == {
        "by": "user:ana", "note": "on it"}
    assert browser.post("/api/events/e1/ack", headers={"X-CSRF-Token": csrf}).status_code == 200


def test_an_action_without_the_right_csrf_token_is_refused(app: FastAPI, users: UserStore) -> None:
    browser, other = client(app), client(app)
    sign_in(browser)
    sign_in(other)
    others = session_csrf(users, other)
    for data in ({}, {"csrf": ""}, {"csrf": "wrong"}, {"csrf": others}):
        answer = browser.post("/api/events/e1/ack", data=data)
        assert answer.status_code == 403, data
        assert "security token" in answer.json()["detail"]
    assert browser.post("/api/events/e1/ack", headers={"X-CSRF-Token": others}).status_code == 403


def test_a_json_call_of_a_session_needs_the_token_in_its_header(app: FastAPI, users: UserStore) -> None:
    browser = client(app)
    sign_in(browser)
    assert browser.post("/api/events/e1/note", json={"text": "x"}).status_code == 403
    assert browser.post("/api/events/e1/note", json={"text": "x"}, headers={"X-CSRF-Token": "wrong"}).status_code == 403
    answer = browser.post("/api/events/e1/note", json={"text": "on my way"},
                          headers={"X-CSRF-Token": session_csrf(users, browser)})
    assert answer.json() == {"by": "user:ana", "note": "on my way"}


def test_a_json_call_with_a_token_needs_no_csrf_token(app: FastAPI, users: UserStore) -> None:
    token = users.create_token("psim", "ana", ["events:read"])
    answer = client(app).post("/api/events/e1/note", json={"text": "x"}, headers=bearer(token))
    assert answer.json() == {"by": "token:psim (user:ana)", "note": "x"}
    assert client(app).post("/api/events/e1/note", json={"text": "x"}).status_code == 401


@pytest.mark.parametrize("headers", [{"Origin": "https://evil.example"}, {"Origin": "null"},
                                     {"Sec-Fetch-Site": "cross-site"}])
def test_an_action_from_another_site_is_refused_even_with_the_token(app: FastAPI, users: UserStore,
                                                                    headers: dict[str, str]) -> None:
    browser = client(app)
    sign_in(browser)
    answer = browser.post("/api/events/e1/ack", data={"csrf": session_csrf(users, browser)}, headers=headers)
    assert answer.status_code == 403
    assert "another site" in answer.json()["detail"]


def test_an_action_from_this_site_names_its_origin(app: FastAPI, users: UserStore) -> None:
    browser = client(app)
    sign_in(browser)
    answer = browser.post("/api/events/e1/ack", data={"csrf": session_csrf(users, browser)},
                          headers={"Origin": "http://testserver", "Sec-Fetch-Site": "same-origin"})
    assert answer.status_code == 200


def test_behind_a_proxy_that_rewrites_host_the_forwarded_host_is_this_site(users: UserStore) -> None:
    browser = client(make_app(users, ConsoleSettings(behind_proxy=True, session_hours=2.0)), "https://testserver")
    proxied = {"Host": "127.0.0.1:8780", "X-Forwarded-Host": "console.school.example",
               "Origin": "https://console.school.example"}
    assert sign_in(browser, **proxied).status_code == 303
    csrf = session_csrf(users, browser)
    assert browser.post("/api/events/e1/ack", data={"csrf": csrf}, headers=proxied).status_code == 200
    forged = {**proxied, "Origin": "https://evil.example"}
    assert browser.post("/api/events/e1/ack", data={"csrf": csrf}, headers=forged).status_code == 403


def test_without_a_proxy_a_forwarded_host_counts_for_nothing(app: FastAPI, users: UserStore) -> None:
    browser = client(app)
    sign_in(browser)
    headers = {"X-Forwarded-Host": "evil.example", "Origin": "https://evil.example"}
    assert browser.post("/api/events/e1/ack", data={"csrf": session_csrf(users, browser)},
                        headers=headers).status_code == 403


def test_the_sign_in_form_needs_its_own_token_and_cookie(app: FastAPI) -> None:
    browser, attacker = client(app), client(app)
    forged = login_form(attacker)  # a valid token, but of another browser's nonce
    login_form(browser)
    for data in ({}, {"csrf": "x" * 64}, {"csrf": forged}):
        answer = browser.post("/login", data={**data, "name": "ana", "password": PASSWORD})
        assert answer.status_code == 403
        assert "expired or came from elsewhere" in answer.text
    fresh = client(app)
    assert fresh.post("/login", data={"csrf": forged, "name": "ana", "password": PASSWORD}).status_code == 403
    assert SESSION_COOKIE not in browser.cookies


def test_a_sign_in_posted_from_another_site_is_refused(app: FastAPI) -> None:
    browser = client(app)
    assert sign_in(browser, Origin="https://evil.example").status_code == 403
    assert SESSION_COOKIE not in browser.cookies


# --- rate limit ----------------------------------------------------------------------------------------------

def test_after_n_failed_sign_ins_the_next_is_refused_even_with_the_right_password(users: UserStore) -> None:
    limiter_clock = Clock(0.0)
    app = make_app(users, SETTINGS, LoginLimiter(3, 60.0, limiter_clock))
    browser = client(app)
    for _ in range(3):
        assert sign_in(browser, password="not her password at all").status_code == 401
    answer = sign_in(browser)
    assert answer.status_code == 429
    assert "Too many failed sign-ins for ana from this address; try again in 1 minute." in answer.text
    assert answer.headers["retry-after"] == "60"
    assert SESSION_COOKIE not in browser.cookies
    assert sign_in(browser, "vic").status_code == 303  # another user from the same address
    limiter_clock.advance(60.0)
    assert sign_in(browser).status_code == 303


def test_behind_a_proxy_the_limit_counts_the_forwarded_address(users: UserStore) -> None:
    app = make_app(users, ConsoleSettings(behind_proxy=True, session_hours=2.0, login_attempts=2))
    browser = client(app, "https://testserver")
    for _ in range(2):
        sign_in(browser, password="not her password at all", **{"X-Forwarded-For": "10.0.0.1, 192.0.2.7"})
    assert sign_in(browser, **{"X-Forwarded-For": "192.0.2.7"}).status_code == 429
    assert sign_in(browser, **{"X-Forwarded-For": "192.0.2.7, 192.0.2.8"}).status_code == 303


# --- API tokens ----------------------------------------------------------------------------------------------

def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def test_a_token_reads_with_its_users_cameras_and_acts_without_a_csrf_token(app: FastAPI, users: UserStore) -> None:
    token = users.create_token("psim", "ana", ["events:read", "events:act"])
    api = client(app)
    assert api.get("/api/whoami", headers=bearer(token)).json() == {
        "actor": "token:psim (user:ana)", "cameras": ["lobby"], "scopes": ["events:act", "events:read"]}
    assert api.post("/api/events/e1/ack", headers=bearer(token)).json()["by"] == "token:psim (user:ana)"


def test_a_token_with_a_narrower_scope_is_refused_by_require(app: FastAPI, users: UserStore) -> None:
    token = users.create_token("vms", "ana", ["events:read"])
    api = client(app)
    assert api.get("/api/whoami", headers=bearer(token)).status_code == 200
    answer = api.post("/api/events/e1/ack", headers=bearer(token))
    assert answer.status_code == 403
    assert answer.json()["detail"] == "token:vms (user:ana) may not events act (role operator, token scopes)"


def test_a_viewer_session_may_read_but_not_act(app: FastAPI, users: UserStore) -> None:
    browser = client(app)
    sign_in(browser, "vic")
    assert browser.get("/api/whoami").json()["cameras"] is None  # a viewer of every camera
    answer = browser.post("/api/events/e1/ack", data={"csrf": session_csrf(users, browser)})
    assert answer.status_code == 403 and "user:vic may not events act" in answer.json()["detail"]


def test_a_revoked_token_is_refused(app: FastAPI, users: UserStore) -> None:
    token = users.create_token("vms", "ana", ["events:read"])
    users.revoke_token("vms")
    assert client(app).get("/api/whoami", headers=bearer(token)).status_code == 401


def test_a_wrong_token_is_not_rescued_by_a_session_cookie(app: FastAPI) -> None:
    browser = client(app)
    sign_in(browser)
    for authorization in ("Bearer gwt_0123456789abcdef_nope", "Basic YW5hOnB3", "Bearer"):
        assert browser.get("/api/whoami", headers={"Authorization": authorization}).status_code == 401


def test_console_auth_keeps_sessions_as_long_as_the_settings_say(users: UserStore) -> None:
    auth = console_auth(users.store, ConsoleSettings(session_hours=3.5))
    assert auth.users.session_hours == 3.5 and auth.users.store is users.store


def test_the_console_and_the_store_must_agree_on_session_hours(users: UserStore) -> None:
    with pytest.raises(ValueError, match=r"session_hours is 12\.0"):
        ConsoleAuth(users, ConsoleSettings())
