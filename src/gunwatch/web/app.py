"""The link endpoint: what a recipient's action link opens.

`GET /act/TOKEN` only shows the event and one button; the action happens on `POST /act/TOKEN`. Mail scanners,
chat link previews and browsers' prefetchers fetch every URL they see, so a GET must never acknowledge or
cancel anything. The token (see gunwatch.alerts.links) is both the authorisation and the request: it names
the event, the action, the kind of message and the recipient, and is checked on every request, the
snapshot's included: its signature and expiry, then whether it was revoked or its stage is over
(gunwatch.alerts.link_checks; the POST checks that again in the action's own transaction).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import parse_qs

from fastapi import FastAPI, Request, Response
from fastapi.responses import HTMLResponse, JSONResponse
from starlette.concurrency import run_in_threadpool

from gunwatch.alerts.event_actions import ActionRefused, ActionResult, EventActions, LinkRefused
from gunwatch.alerts.link_checks import LinkRevocations
from gunwatch.alerts.links import LinkClaim, LinkError, read_token
from gunwatch.events.evidence import picture_to_send
from gunwatch.events.model import ThreatEvent
from gunwatch.events.store import EventStore
from gunwatch.events.store.errors import StoreError
from gunwatch.events.store.schema import DispositionRow
from gunwatch.web.pages import CurrentDisposition, error_page, event_page, result_page

if TYPE_CHECKING:
    from gunwatch.web.site import Console

log = logging.getLogger(__name__)

MAX_NOTE = 500
MAX_FORM_BYTES = 16 * 1024

# The token in the URL is a credential: no caching, no Referer, no framing (a framed button invites
# clickjacking), and nothing loaded from elsewhere.
SECURITY_HEADERS = {
    "Cache-Control": "no-store",
    "Referrer-Policy": "no-referrer",
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Content-Security-Policy": "default-src 'none'; img-src 'self'; style-src 'unsafe-inline'; "
                               "form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
}


class PageError(Exception):
    """Ends a request with an error page."""

    def __init__(self, status: int, title: str, message: str):
        super().__init__(message)
        self.status, self.title, self.message = status, title, message


def create_app(store: EventStore, actions: EventActions, secret: str | None,
               on_action: Callable[[ActionResult], None] | None = None,
               alive: Callable[[], bool] | None = None, console: Console | None = None) -> FastAPI:
    """`on_action` is called after each POSTed action (the alert service wakes its dispatcher with it, so the
    cancels go out at once); its errors are logged, never shown: the action itself is already done. `alive`
    (the watch's watchdog) answers /healthz: 200 while the pipeline moves, 503 once it is stuck. `secret`
    None: no action links. `console`: the console, API and metrics on the same server (`gunwatch.web.site`)."""
    # FastAPI's own docs pages load scripts from a CDN: off. The console serves its own, to signed-in users.
    app = FastAPI(title="gunwatch", docs_url=None, redoc_url=None, openapi_url=None)

    @app.middleware("http")
    async def _security_headers(request: Request, call_next: Callable[[Request], Awaitable[Response]]) -> Response:
        response = await call_next(request)
        for name, value in SECURITY_HEADERS.items():
            response.headers.setdefault(name, value)
        return response

    @app.exception_handler(PageError)
    async def _page_error(_: Request, error: PageError) -> HTMLResponse:
        return HTMLResponse(error_page(error.title, error.message), status_code=error.status)

    @app.exception_handler(StoreError)
    async def _store_error(_: Request, error: StoreError) -> HTMLResponse:
        log.error("link endpoint: %s", error)
        return HTMLResponse(error_page("Try again", "gunwatch cannot reach its event store right now."),
                            status_code=503)

    _add_health(app, alive)
    if console is not None:
        console.install(app, on_action)
    if secret is None:
        return app
    revocations = LinkRevocations(store)
    link_secret = secret

    def usable(token: str) -> LinkClaim:
        claim = _claim(link_secret, token)
        refusal = revocations.refusal(claim)
        if refusal is not None:
            raise PageError(403, "Link not valid", f"This link cannot be used: {refusal}.")
        return claim

    # Plain `def` handlers: the store is blocking, so FastAPI runs them in its thread pool. Not in the API's
    # OpenAPI document: these are pages for whoever received a message, not calls for an integration.
    @app.get("/act/{token}", response_class=HTMLResponse, include_in_schema=False)
    def show(token: str) -> HTMLResponse:
        claim = usable(token)
        event = _event(store, claim)
        return HTMLResponse(event_page(token, claim, event, _disposition(store, event.id),
                                       _snapshot(event) is not None, console=console is not None))

    @app.get("/act/{token}/snapshot", include_in_schema=False)
    def snapshot(token: str) -> Response:
        event = _event(store, usable(token))
        path = _snapshot(event)
        if path is None:
            raise PageError(404, "No snapshot", "This event has no snapshot.")
        try:
            data = path.read_bytes()
        except OSError:
            raise PageError(404, "No snapshot", "The event's snapshot cannot be read.") from None
        return Response(data, media_type="image/jpeg")

    @app.post("/act/{token}", response_class=HTMLResponse, include_in_schema=False)
    async def act(token: str, request: Request) -> HTMLResponse:
        claim = _claim(link_secret, token)  # before reading the body: strangers get nothing read
        note = _note(await _read_form(request))
        return await run_in_threadpool(_perform, claim, note)

    def _perform(claim: LinkClaim, note: str | None) -> HTMLResponse:
        event = _event(store, claim)
        try:
            result = actions.perform(claim.action, event.id, f"link:{claim.recipient or 'unknown'}", note, link=claim)
        except LinkRefused as refused:
            raise PageError(403, "Link not valid", f"This link cannot be used: {refused}.") from None
        except ActionRefused as refused:
            raise PageError(409, "Not done", str(refused)) from None
        if on_action is not None:
            try:
                on_action(result)
            except Exception:
                log.exception("link endpoint: on_action failed after %s of event %s", claim.action, event.id)
        return HTMLResponse(result_page(event, result, console=console is not None))

    return app


def _add_health(app: FastAPI, alive: Callable[[], bool] | None) -> None:
    @app.get("/healthz", include_in_schema=False)
    def healthz() -> JSONResponse:
        # Only yes or no: what is stuck (camera names, lanes) is for the log, not for whoever reaches this port.
        try:
            ok = alive is None or alive()
        except Exception:
            log.exception("web: liveness not known")
            ok = False
        return JSONResponse({"ok": ok}, status_code=200 if ok else 503)


def _claim(secret: str, token: str) -> LinkClaim:
    try:
        return read_token(secret, token)
    except LinkError as error:
        raise PageError(403, "Link not valid", f"This link cannot be used: {error}.") from None


def _event(store: EventStore, claim: LinkClaim) -> ThreatEvent:
    event = store.get_event(claim.event_id)
    if event is None:
        raise PageError(404, "No such event", f"gunwatch has no event {claim.event_id} (it may have been purged).")
    return event


def _disposition(store: EventStore, event_id: str) -> CurrentDisposition | None:
    with store.errors("cannot read"), store.read_session() as session:
        row = session.get(DispositionRow, event_id)
        return None if row is None else CurrentDisposition(row.disposition, row.actor, row.note, row.at)


def _snapshot(event: ThreatEvent) -> Path | None:
    """The event's picture, as every channel carries it (annotated: the box that fired drawn), if the file is
    there (paths are relative to where gunwatch runs)."""
    picture = picture_to_send(event.evidence)
    if not picture:
        return None
    path = Path(picture)
    return path if path.is_file() else None


async def _read_form(request: Request) -> bytes:
    body = b""
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_FORM_BYTES:
            raise PageError(413, "Too long", "The note is too long.")
    return body


def _note(body: bytes) -> str | None:
    """The optional `note` of the urlencoded form (parsed here: FastAPI's Form needs python-multipart). It
    goes to the audit log only: never into messages, nor onto other recipients' pages."""
    values = parse_qs(body.decode("utf-8", "replace")).get("note", [])
    note = values[0].strip() if values else ""
    return note[:MAX_NOTE] or None
