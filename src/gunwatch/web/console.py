"""The console's pages: the live wall, the alert banner, events, an event, cameras; and the four actions.

    router = console_router(auth, ConsoleServices(events, cameras, channels, runs), settings, on_action)
    app.include_router(router)

Every page needs a signed-in principal (ConsoleAuth redirects to /login otherwise) and shows only the
cameras and events it may see: the same service layer answers the API, the CLI and the links. Actions are
forms posted with the session's CSRF token; the script posts them in the background and asks for JSON.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from importlib import resources

from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from gunwatch.alerts.event_actions import ActionRefused, ActionResult
from gunwatch.config.console import ConsoleSettings
from gunwatch.service.cameras import CameraService
from gunwatch.service.channels import ChannelService
from gunwatch.service.errors import InvalidRequest, NotFound
from gunwatch.service.events import EventFilter, EventService
from gunwatch.service.runs import RunService
from gunwatch.users.principal import AccessDenied, Principal
from gunwatch.users.records import UserError
from gunwatch.web import console_pages as pages
from gunwatch.web.api import http_errors
from gunwatch.web.auth import ConsoleAuth
from gunwatch.web.pages import outcome_text

log = logging.getLogger(__name__)

BANNER_HOURS = 24  # an alert nobody closed stays on the banner this long after it was confirmed
BANNER_LIMIT = 12
STATIC = {"console.js": "text/javascript; charset=utf-8", "console.css": "text/css; charset=utf-8"}
# The console's own scripts and styles only; frames, pictures and clips from this server; nothing framed.
CONSOLE_HEADERS = {
    "Cache-Control": "no-store",
    "Referrer-Policy": "same-origin",
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Content-Security-Policy": "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; "
                               "media-src 'self'; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; "
                               "base-uri 'none'",
}


@dataclass(frozen=True)
class ConsoleServices:
    events: EventService
    cameras: CameraService
    channels: ChannelService
    runs: RunService

    @property
    def has_live(self) -> bool:
        return self.cameras.live is not None


def console_router(auth: ConsoleAuth, services: ConsoleServices, settings: ConsoleSettings,
                   on_action: Callable[[ActionResult], None] | None = None) -> APIRouter:
    router = APIRouter(include_in_schema=False)
    signed_in = Depends(auth.principal)
    reader = Depends(auth.require("events:read"))
    watcher = Depends(auth.require("cameras:read"))

    def page(request: Request, principal: Principal, title: str, here: str, body: str) -> HTMLResponse:
        credential = auth.credential(request)
        csrf = credential.csrf if credential is not None and credential.csrf else ""
        banner = _banner(services, principal, csrf) if principal.may("events:read") else ""
        html = pages.layout(title, body, user=principal, csrf=csrf, here=here, live_fps=settings.live_fps,
                            banner=banner)
        return HTMLResponse(html, headers=CONSOLE_HEADERS)

    @router.get("/")
    def live_wall(request: Request, principal: Principal = watcher) -> HTMLResponse:
        with http_errors():
            cameras = services.cameras.list(principal)
        has_live = services.has_live and principal.may("live:read")
        # Refreshed when a camera's health changes (a camera added, gone offline, back).
        body = f"<div data-fragment=\"/console/wall\" data-kinds=\"health\">{pages.wall(cameras, has_live)}</div>"
        return page(request, principal, "Live", "/", body)

    @router.get("/console/wall")
    def wall_fragment(principal: Principal = watcher) -> HTMLResponse:
        with http_errors():
            cameras = services.cameras.list(principal)
        has_live = services.has_live and principal.may("live:read")
        return HTMLResponse(pages.wall(cameras, has_live), headers=CONSOLE_HEADERS)

    @router.get("/cameras")
    def cameras_page(request: Request, principal: Principal = watcher) -> HTMLResponse:
        with http_errors():
            cameras = services.cameras.list(principal)
            channels = services.channels.list(principal) if principal.may("events:read") else []
        return page(request, principal, "Cameras", "/cameras", pages.cameras_page(cameras, channels))

    @router.get("/cameras/{name}")
    def camera_page(name: str, request: Request, principal: Principal = watcher) -> HTMLResponse:
        with http_errors():
            views = [view for view in services.cameras.list(principal) if view.name == name]
            if not views:
                raise NotFound(f"no camera {name}")
            history = services.cameras.health_history(principal, name, limit=200)
        has_live = services.has_live and principal.may("live:read")
        return page(request, principal, f"Camera {name}", "/cameras", pages.camera_page(views[0], history, has_live))

    @router.get("/events")
    def events_page(request: Request, principal: Principal = reader) -> HTMLResponse:
        chosen = {k: v for k, v in request.query_params.items()
                  if k in ("camera", "state", "disposition", "since", "until") and v}
        with http_errors():
            found = services.events.list(principal, _filter(chosen, request.query_params.get("before")))
            cameras = [view.name for view in services.cameras.list(principal)] if principal.may("cameras:read") else []
        rows = [(item.event, item.disposition.disposition if item.disposition else None) for item in found]
        more = found[-1].event.id if len(found) == PAGE else None
        return page(request, principal, "Events", "/events", pages.events_page(rows, cameras, chosen, more))

    @router.get("/events/{event_id}")
    def event_page(event_id: str, request: Request, principal: Principal = reader) -> HTMLResponse:
        with http_errors():
            detail = services.events.get(principal, event_id)
        if detail.event is None:
            raise HTTPException(404, f"{event_id} is an incident without a threat event: see `gunwatch event show`")
        credential = auth.credential(request)
        csrf = credential.csrf if credential is not None and credential.csrf else ""
        return page(request, principal, f"Gun on {detail.camera}", "/events", pages.event_page(detail, principal, csrf))

    @router.get("/events/{event_id}/story")
    def event_story(event_id: str, principal: Principal = reader) -> HTMLResponse:
        with http_errors():
            detail = services.events.get(principal, event_id)
        return HTMLResponse(pages.event_story(detail), headers=CONSOLE_HEADERS)

    @router.post("/events/{event_id}/act")
    async def act(event_id: str, request: Request, form: dict[str, str] = Depends(auth.checked_form)) -> Response:  # noqa: B008
        principal = auth.principal(request)
        action, note = form.get("action", ""), (form.get("note") or "").strip()[:500] or None
        try:
            result = await run_in_threadpool(services.events.act, principal, event_id, action, note)
        except ActionRefused as refused:
            return _answer(request, event_id, 409, str(refused))
        except (NotFound, InvalidRequest, AccessDenied) as error:
            status = 404 if isinstance(error, NotFound) else 422 if isinstance(error, InvalidRequest) else 403
            return _answer(request, event_id, status, str(error))
        if on_action is not None:
            try:
                on_action(result)
            except Exception:
                log.exception("console: on_action failed after %s of event %s", action, event_id)
        return _answer(request, event_id, 200, outcome_text(result))

    @router.get("/account")
    def account(request: Request, principal: Principal = Depends(auth.principal)) -> HTMLResponse:  # noqa: B008
        return page(request, principal, "Account", "/account", pages.account_page(principal, _csrf(auth, request)))

    @router.get("/users")
    def users(request: Request, principal: Principal = Depends(auth.require("admin"))) -> HTMLResponse:  # noqa: B008
        with http_errors():
            listed, tokens = auth.users.list_users(), auth.users.list_tokens()
        body = pages.users_page(listed, tokens, _csrf(auth, request), time.time())
        return page(request, principal, "Users and API tokens", "/users", body)

    @router.post("/users/tokens/{name}/revoke")
    async def revoke_token(name: str, request: Request,
                           form: dict[str, str] = Depends(auth.checked_form)) -> Response:  # noqa: B008
        principal = auth.principal(request)
        if not principal.may("admin"):
            raise HTTPException(403, f"{principal.actor} may not manage tokens (role {principal.role})")
        try:
            revoked = await run_in_threadpool(auth.users.revoke_token, name, principal)
        except UserError as error:
            raise HTTPException(404, str(error)) from None
        if not revoked:
            raise HTTPException(409, f"token {name} was revoked already")
        return RedirectResponse("/users", status_code=303)

    @router.get("/console/banner")
    def banner(request: Request, principal: Principal = reader) -> HTMLResponse:
        credential = auth.credential(request)
        csrf = credential.csrf if credential is not None and credential.csrf else ""
        return HTMLResponse(_banner(services, principal, csrf), headers=CONSOLE_HEADERS)

    @router.get("/static/{name}")
    def static(name: str, principal: Principal = signed_in) -> Response:
        # For signed-in pages only (the sign-in page needs neither: its style is inline), so a stranger learns
        # nothing of the console from its script. Only the console's own two files: no path from the request
        # ever reaches the file system.
        if name not in STATIC:
            raise HTTPException(404, "not found")
        data = resources.files("gunwatch.web").joinpath("static", name).read_bytes()
        return Response(data, media_type=STATIC[name], headers={"Cache-Control": "no-cache",
                                                                 "X-Content-Type-Options": "nosniff"})

    return router


PAGE = 50


def _csrf(auth: ConsoleAuth, request: Request) -> str:
    credential = auth.credential(request)
    return credential.csrf if credential is not None and credential.csrf else ""


def _filter(chosen: dict[str, str], before: str | None) -> EventFilter:
    def one(name: str) -> frozenset[str] | None:
        return frozenset({chosen[name]}) if name in chosen else None

    return EventFilter(cameras=one("camera"), states=one("state"), dispositions=one("disposition"),
                       since=_epoch(chosen.get("since")), until=_epoch(chosen.get("until")), limit=PAGE,
                       before=before or None)


def _epoch(text: str | None) -> float | None:
    """A browser's datetime-local value (the viewer's local time) as epoch seconds."""
    if not text:
        return None
    try:
        return datetime.fromisoformat(text).astimezone().timestamp()
    except ValueError:
        raise InvalidRequest(f"not a date and time: {text!r}") from None


def _banner(services: ConsoleServices, principal: Principal, csrf: str) -> str:
    """Events still to act on: confirmed in the last day and not called a false alarm or resolved."""
    found = services.events.list(principal, EventFilter(
        since=time.time() - BANNER_HOURS * 3600, dispositions=frozenset({"none", "acknowledged", "confirmed"}),
        limit=BANNER_LIMIT))
    alerts = []
    for item in found:
        detail = services.events.get(principal, item.event.id)
        said = item.disposition
        alerts.append(pages.BannerAlert(item.event, said.disposition if said else None, said.actor if said else None,
                                        detail.deliveries, detail.runs))
    return pages.banner(alerts, principal, csrf)


def _answer(request: Request, event_id: str, status: int, message: str) -> Response:
    """JSON for the script; for a form posted without it, back to the event's page (the message is lost, the
    page shows the new state)."""
    if "application/json" in request.headers.get("accept", ""):
        return JSONResponse({"ok": status == 200, "message": message}, status_code=status)
    if status != 200:
        raise HTTPException(status, message)
    return RedirectResponse(f"/events/{event_id}", status_code=303)
