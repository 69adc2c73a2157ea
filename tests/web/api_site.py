"""What the API, stream and metrics tests share: the API on a real SQLite store, with a test-only sign-in.

The real sign-in is gunwatch.web.auth (sessions and API tokens). These tests are about what each principal
may see and do once signed in, so `test_principal` stands in for it: the `X-Test-User` header names one of
the principals below, and no header is a 401, as the real dependency answers.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Annotated

from fastapi import FastAPI, Header, HTTPException

from gunwatch.alerts.event_actions import ActionResult, EventActions
from gunwatch.events.store import EventStore
from gunwatch.service.cameras import CameraService
from gunwatch.service.channels import ChannelService
from gunwatch.service.events import EventService
from gunwatch.service.feed import EventFeed
from gunwatch.service.runs import RunService
from gunwatch.users.principal import Principal
from gunwatch.web.api import api_router
from service.conftest import ADMIN, LOBBY_ONLY, OPERATOR, VIEWER, FixedLiveView

USERS: dict[str, Principal] = {
    "ada": ADMIN,  # admin, every camera
    "otto": OPERATOR,  # operator, every camera
    "vera": VIEWER,  # viewer, every camera
    "lola": LOBBY_ONLY,  # operator of camera lobby only
    "scraper": Principal("prom", "viewer", frozenset({"cameras:read"}), None, "token", "prometheus"),
    "psim": Principal("int", "viewer", frozenset({"events:read"}), None, "token", "psim"),
}


def test_principal(x_test_user: Annotated[str | None, Header()] = None) -> Principal:
    """Test-only stand-in for gunwatch.web.auth's dependency."""
    if x_test_user not in USERS:
        raise HTTPException(401, "sign in first")
    return USERS[x_test_user]


test_principal.__test__ = False  # type: ignore[attr-defined]  # a dependency, not a test


def test_acting_principal(x_test_user: Annotated[str | None, Header()] = None,
                          x_test_csrf: Annotated[str | None, Header()] = None) -> Principal:
    """Test-only stand-in for the CSRF-checking dependency of state-changing requests (`csrf_checked`)."""
    principal = test_principal(x_test_user)
    if x_test_csrf != "ok":
        raise HTTPException(403, "the form's security token is missing")
    return principal


test_acting_principal.__test__ = False  # type: ignore[attr-defined]


def as_user(name: str) -> dict[str, str]:
    """The headers of a signed-in user's request (with what the acting dependency checks)."""
    return {"X-Test-User": name, "X-Test-Csrf": "ok"}


@dataclass
class ApiSite:
    store: EventStore
    live: FixedLiveView
    feed: EventFeed | None
    app: FastAPI
    actions_done: list[ActionResult]


def api_site(store: EventStore, feed: EventFeed | None = None, live: FixedLiveView | None = None) -> ApiSite:
    live = live if live is not None else FixedLiveView()
    done: list[ActionResult] = []
    app = FastAPI(docs_url=None, redoc_url=None, openapi_url=None)
    app.include_router(api_router(EventService(store, EventActions(store)), CameraService(store, live),
                                  ChannelService(store, configured=["email"]), RunService(store), test_principal,
                                  feed=feed, on_action=done.append, act_dependency=test_acting_principal))
    return ApiSite(store, live, feed, app, done)


def sqlite_store(folder: Path) -> EventStore:
    return EventStore(f"sqlite:///{folder / 'store.db'}")
