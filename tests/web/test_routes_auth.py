"""Every route of the composed web app (console pages, sign-in, /api/*, /metrics, /static/*, /api/docs*, the action
links), walked from `app.routes` so a route added later is covered without touching this file, and requested
by a stranger: with no credential, with a forged session cookie and with a made-up API token.

Only /healthz and the sign-in page answer a stranger. The action links are authorised by their signed token
alone: a tampered one is a 403. Everything else is a 401 (/api/* and /metrics, asked by programs) or a 303 to
the sign-in page (pages, their script and style). Each route is also asked with real path parameters by a
signed-in admin, so a refusal above is the sign-in's and not a 404 for a made-up id."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from gunwatch.alerts.links import make_token
from gunwatch.web.auth import SESSION_COOKIE
from web.populated_site import LINK_SECRET, PASSWORD, PopulatedSite, populated_site

PUBLIC = {("GET", "/healthz"), ("GET", "/login"), ("POST", "/login")}
LINKS = "/act/"
PROGRAMS = ("/api/", "/metrics")  # asked by integrations and scrapers: a 401, not a sign-in page
# Path parameters by route, then by name: values a signed-in admin gets an answer for.
ROUTE_VALUES = {
    "/static/{name}": {"name": "console.js"},
    "/api/docs/assets/{name}": {"name": "swagger-ui-bundle.js"},
    "/users/tokens/{name}/revoke": {"name": "viewer-token"},
}
# The live stream never ends for a signed-in client; tests/web/test_stream.py reads it.
ENDLESS = {("GET", "/api/stream")}


@pytest.fixture
def site(tmp_path: Path) -> Iterator[PopulatedSite]:
    built = populated_site(tmp_path)
    yield built
    built.close()


def every_route(app: Any) -> list[tuple[str, str]]:
    """(method, path template) of every route the app answers, routers included."""
    found = {(method, path) for path, methods in _paths(app.routes) for method in methods if method != "HEAD"}
    return sorted(found, key=lambda pair: (pair[1], pair[0]))


def _paths(routes: list[Any], prefix: str = "") -> Iterator[tuple[str, set[str]]]:
    for route in routes:
        contexts = getattr(route, "effective_route_contexts", None)  # an included router, kept whole by FastAPI
        if contexts is not None:
            for context in contexts():  # each of its routes, under its full path
                yield prefix + context.path, getattr(context.original_route, "methods", None) or set()
        elif hasattr(route, "routes"):  # a mount
            yield from _paths(route.routes, prefix + route.path)
        else:
            yield prefix + route.path, getattr(route, "methods", None) or set()


def real_path(site: PopulatedSite, template: str) -> str:
    link = make_token(LINK_SECRET, site.events[0].id, "ack", "alert", "alice", time.time(), time.time() + 3600)
    values = {"event_id": site.events[0].id, "name": "lobby", "which": "snapshot", "action": "ack", "token": link}
    values |= ROUTE_VALUES.get(template, {})
    names = re.findall(r"{(\w+)}", template)
    missing = [name for name in names if name not in values]
    assert not missing, f"{template}: give a real value for {missing} in ROUTE_VALUES"
    return template.format(**{name: values[name] for name in names})


def signed_in(site: PopulatedSite, name: str = "admin") -> TestClient:
    browser = TestClient(site.app)
    form = browser.get("/login").text
    csrf = re.search(r'name="csrf" value="([^"]+)"', form).group(1)  # type: ignore[union-attr]
    answer = browser.post("/login", data={"csrf": csrf, "name": name, "password": PASSWORD, "next": "/"},
                          follow_redirects=False)
    assert answer.status_code == 303, answer.text
    return browser


def strangers(site: PopulatedSite) -> dict[str, TestClient]:
    forged_cookie = TestClient(site.app)
    forged_cookie.cookies.set(SESSION_COOKIE, "a-session-nobody-started")
    made_up_token = TestClient(site.app, headers={"Authorization": "Bearer gwt_0123456789abcdef_madeup"})
    return {"no credential": TestClient(site.app), "forged session": forged_cookie, "made-up token": made_up_token}


def test_the_walk_finds_every_kind_of_route(site: PopulatedSite) -> None:
    routes = set(every_route(site.app))
    for expected in [("GET", "/"), ("GET", "/events/{event_id}"), ("POST", "/events/{event_id}/act"),
                     ("GET", "/static/{name}"), ("GET", "/api/events"), ("GET", "/api/openapi.json"),
                     ("GET", "/api/docs"), ("GET", "/api/docs/assets/{name}"), ("GET", "/api/stream"),
                     ("GET", "/metrics"), ("GET", "/healthz"), ("GET", "/login"), ("GET", "/act/{token}")]:
        assert expected in routes, expected


def test_no_route_answers_a_stranger_but_health_sign_in_and_links(site: PopulatedSite) -> None:
    routes = every_route(site.app)
    for who, client in strangers(site).items():
        for method, template in routes:
            path = real_path(site, template)
            if (method, template) in PUBLIC:
                assert client.request(method, path).status_code < 500, (who, method, template)
                continue
            if template.startswith(LINKS):
                tampered = path.replace(LINKS, f"{LINKS}x", 1)
                answer = client.request(method, tampered, follow_redirects=False)
                assert answer.status_code == 403, (who, method, template, answer.text)
                continue
            answer = client.request(method, path, follow_redirects=False)
            if template.startswith(PROGRAMS):
                assert answer.status_code == 401, (who, method, template, answer.status_code)
                assert answer.headers["www-authenticate"] == "Bearer" and "sign in" in answer.json()["detail"]
            else:
                assert answer.status_code == 303, (who, method, template, answer.status_code)
                assert answer.headers["location"].startswith("/login"), (who, method, template)
            # Nothing of the console, and no session started (clearing a forged cookie is fine).
            started = re.search(rf'{SESSION_COOKIE}=[^";]', answer.headers.get("set-cookie", ""))
            assert "console.js" not in answer.text and started is None, (who, method, template)


def test_the_same_paths_answer_a_signed_in_admin(site: PopulatedSite) -> None:
    """The values above are real: with a session each GET is answered (a refusal above was the sign-in's)."""
    admin = signed_in(site)
    for method, template in every_route(site.app):
        if method != "GET" or (method, template) in ENDLESS:
            continue
        answer = admin.get(real_path(site, template), follow_redirects=False)
        assert answer.status_code == 200, (template, answer.status_code, answer.text[:200])


def test_a_link_with_its_signed_token_opens_without_a_sign_in(site: PopulatedSite) -> None:
    stranger = TestClient(site.app)
    page = stranger.get(real_path(site, "/act/{token}"))
    assert page.status_code == 200 and site.events[0].camera in page.text
    assert stranger.get(real_path(site, "/act/{token}/snapshot")).headers["content-type"] == "image/jpeg"


def test_the_consoles_script_and_style_are_for_signed_in_pages_only(site: PopulatedSite) -> None:
    login = TestClient(site.app).get("/login").text
    assert "/static/" not in login  # the sign-in page is whole without them
    stranger = TestClient(site.app)
    for name in ("console.js", "console.css", "nothing.js"):
        answer = stranger.get(f"/static/{name}", follow_redirects=False)
        assert answer.status_code == 303 and answer.headers["location"] == f"/login?next=/static/{name}", name
    admin = signed_in(site)
    assert admin.get("/static/console.js").headers["content-type"].startswith("text/javascript")
    assert admin.get("/static/nothing.js").status_code == 404
