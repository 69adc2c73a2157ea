"""Who a console or API request acts as, and the sign-in pages: FastAPI dependencies over the user store.

    auth = ConsoleAuth(users, settings)
    auth.install(app)                                         # /login, /logout, /logout/all; cookie refresh
    @app.get("/events")
    def events(principal: Annotated[Principal, Depends(auth.require("events:read"))]) -> ...
    @app.post("/events/{event_id}/ack")
    def ack(principal: Annotated[Principal, Depends(auth.require("events:act"))],
            form: Annotated[dict[str, str], Depends(auth.checked_form)]) -> ...
    @app.post("/api/events/{event_id}/note")        # a JSON body: the token in the X-CSRF-Token header
    def note(principal: Annotated[Principal, Depends(auth.csrf_checked)], body: Note) -> ...

A request signs in with the session cookie (`gunwatch_session`) or `Authorization: Bearer gwt_...`. Without
one, /api/ paths and /metrics answer 401 JSON and pages redirect to /login?next=PATH. Every state-changing request of a
session must carry the session's CSRF token (the `csrf` form field or the `X-CSRF-Token` header) and must
not come from another site (Origin, Sec-Fetch-Site); bearer-token requests need neither (a browser never
adds the header on its own, so another site cannot forge one).
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import math
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated, Any
from urllib.parse import parse_qs, quote, urlsplit

from fastapi import APIRouter, Depends, FastAPI, HTTPException, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette import types as asgi
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import MutableHeaders

from gunwatch.config.console import ConsoleSettings
from gunwatch.events.store import EventStore
from gunwatch.users.principal import Principal, Scope
from gunwatch.users.rate_limit import LoginLimiter
from gunwatch.users.store import UserStore
from gunwatch.web.login_page import LOGIN_HEADERS, login_page

log = logging.getLogger(__name__)

SESSION_COOKIE = "gunwatch_session"
LOGIN_COOKIE = "gunwatch_login"  # the sign-in form's own CSRF nonce, before there is a session
CSRF_HEADER = "X-CSRF-Token"
MAX_FORM_BYTES = 16 * 1024
LOGIN_FORM_S = 3600  # how long a sign-in form may stay open before it must be reloaded
_STATE_KEY = "gunwatch_credential"


@dataclass(frozen=True)
class Credential:
    """What signed a request in: a session (with its secret and CSRF token) or an API token (neither)."""

    principal: Principal
    session_secret: str | None = None
    csrf: str | None = None


def console_auth(store: EventStore, settings: ConsoleSettings, limiter: LoginLimiter | None = None) -> ConsoleAuth:
    """The usual wiring: the users of the event store, whose sessions last as long as the settings say."""
    return ConsoleAuth(UserStore(store, session_hours=settings.session_hours), settings, limiter)


class ConsoleAuth:
    """`limiter` defaults to the settings' login_attempts per login_window_s. `key` signs the sign-in form's
    CSRF nonce (default: random per process; a form opened before a restart must be reloaded)."""

    def __init__(self, users: UserStore, settings: ConsoleSettings, limiter: LoginLimiter | None = None,
                 key: bytes | None = None):
        if users.session_hours != settings.session_hours:
            raise ValueError(f"the user store keeps sessions {users.session_hours} h but the console's "
                             f"session_hours is {settings.session_hours}: build the UserStore with it")
        self.users = users
        self.settings = settings
        self.limiter = limiter or LoginLimiter(settings.login_attempts, settings.login_window_s)
        self._key = key or secrets.token_bytes(32)
        self.router = self._routes()

    def install(self, app: FastAPI) -> None:
        """Add the sign-in routes, and renew the session cookie on each signed-in response so the browser
        keeps it as long as the session lasts (its expiry slides with use)."""
        app.include_router(self.router)
        app.add_middleware(_RefreshSessionCookie, cookie=self._session_cookie_header)

    # --- who is asking -------------------------------------------------------------------------------------

    def credential(self, request: Request) -> Credential | None:
        """The request's credential, looked up once per request. A bearer token, when given, is the only one
        considered (a wrong token is not rescued by a cookie)."""
        cached = getattr(request.state, _STATE_KEY, False)
        if cached is not False:
            return cached
        credential = self._look_up(request)
        setattr(request.state, _STATE_KEY, credential)
        return credential

    def principal(self, request: Request) -> Principal:
        """The dependency: the request's principal, else 401 (API) or a redirect to the sign-in page."""
        credential = self.credential(request)
        if credential is None:
            raise self._sign_in_required(request)
        return credential.principal

    def require(self, scope: Scope) -> Callable[..., Principal]:
        """A dependency giving the principal when it has `scope`, else 403 naming what is missing."""

        # A default, not Annotated: annotations are strings here, and `self` is no global to resolve them with.
        def dependency(principal: Principal = Depends(self.principal)) -> Principal:  # noqa: B008
            if not principal.may(scope):
                raise HTTPException(403, f"{principal.actor} may not {scope.replace(':', ' ')} "
                                         f"(role {principal.role}{', token scopes' if principal.token else ''})")
            return principal

        return dependency

    # --- CSRF ----------------------------------------------------------------------------------------------

    def check_csrf(self, request: Request, submitted: str | None) -> None:
        """403 unless a state-changing request may go ahead: a bearer-token request always; a session's only
        from this site and with the session's CSRF token (`submitted`, else the X-CSRF-Token header)."""
        credential = self.credential(request)
        if credential is None:
            raise self._sign_in_required(request)
        if credential.session_secret is None:
            return
        _check_same_site(request, self.settings.behind_proxy)
        given = submitted or request.headers.get(CSRF_HEADER)
        if not given or credential.csrf is None or not hmac.compare_digest(given.encode(), credential.csrf.encode()):
            raise HTTPException(403, "the form's security token is missing or is not this session's: reload the "
                                     "page and try again")

    async def checked_form(self, request: Request) -> dict[str, str]:
        """A dependency for form posts: the request's urlencoded form (read here: take it from this dependency,
        the body is consumed), after `check_csrf` with its `csrf` field or the X-CSRF-Token header."""
        form = await read_form(request)
        await run_in_threadpool(self.check_csrf, request, form.get("csrf"))
        return form

    def csrf_checked(self, request: Request) -> Principal:
        """A dependency for state-changing requests whose body is not a form (JSON API calls, a script's fetch):
        the principal, after `check_csrf` with the X-CSRF-Token header; the body is left unread."""
        self.check_csrf(request, None)
        return self.principal(request)

    # --- the routes ----------------------------------------------------------------------------------------

    def _routes(self) -> APIRouter:
        router = APIRouter()
        router.add_api_route("/login", self._show_login, methods=["GET"], response_class=HTMLResponse,
                             include_in_schema=False)
        router.add_api_route("/login", self._sign_in, methods=["POST"], response_class=HTMLResponse,
                             include_in_schema=False)
        router.add_api_route("/logout", self._sign_out, methods=["POST"], include_in_schema=False)
        router.add_api_route("/logout/all", self._sign_out_everywhere, methods=["POST"], include_in_schema=False)
        return router

    def _show_login(self, next_path: Annotated[str, Query(alias="next")] = "/") -> Response:
        # The form even when a session cookie came along: it may be one someone else planted, and signing in
        # here ends it.
        return self._login_form(local_path(next_path))

    async def _sign_in(self, request: Request) -> Response:
        form = await read_form(request)
        target = local_path(form.get("next"))
        name, password = form.get("name", "").strip(), form.get("password", "")
        if not self._login_csrf_ok(request, form.get("csrf")):
            return self._login_form(target, "The sign-in form expired or came from elsewhere; try again.", name,
                                    status=403)
        address = client_address(request, self.settings.behind_proxy)
        if not self.limiter.allowed(name, address):
            minutes = max(1, math.ceil(self.limiter.retry_after(name, address) / 60))
            response = self._login_form(target, f"Too many failed sign-ins for {name or 'this name'} from this "
                                                f"address; try again in {minutes} minute{'s' if minutes > 1 else ''}.",
                                        name, status=429)
            response.headers["Retry-After"] = str(minutes * 60)
            return response
        principal = await run_in_threadpool(self.users.authenticate, name, password, address)
        if principal is None:
            self.limiter.failed(name, address)
            return self._login_form(target, "Wrong user name or password.", name, status=401)
        self.limiter.succeeded(name, address)
        old = request.cookies.get(SESSION_COOKIE)
        if old:  # whatever session this browser had ends: the sign-in gets a new one, never a planted one
            await run_in_threadpool(self.users.end_session, old)
        secret, _ = await run_in_threadpool(self.users.start_session, name, address)
        response = RedirectResponse(target, status_code=303)
        self._set_session_cookie(response, secret)
        response.delete_cookie(LOGIN_COOKIE, path="/login", secure=self.settings.secure_cookies, httponly=True,
                               samesite="strict")
        return response

    async def _sign_out(self, request: Request) -> Response:
        form = await read_form(request)
        credential = await run_in_threadpool(self.credential, request)
        if credential is not None and credential.session_secret is not None:
            await run_in_threadpool(self.check_csrf, request, form.get("csrf"))
            await run_in_threadpool(self.users.end_session, credential.session_secret)
        return self._signed_out()

    async def _sign_out_everywhere(self, request: Request) -> Response:
        form = await read_form(request)
        await run_in_threadpool(self.check_csrf, request, form.get("csrf"))
        principal = self.principal(request)  # check_csrf found the credential: cached
        await run_in_threadpool(self.users.end_all_sessions, principal.name, principal)
        return self._signed_out()

    # --- helpers -------------------------------------------------------------------------------------------

    def _look_up(self, request: Request) -> Credential | None:
        authorization = request.headers.get("authorization")
        if authorization is not None:
            scheme, _, token = authorization.partition(" ")
            if scheme.lower() != "bearer":
                return None
            principal = self.users.token_principal(token.strip())
            return None if principal is None else Credential(principal)
        secret = request.cookies.get(SESSION_COOKIE)
        if not secret:
            return None
        active = self.users.session(secret)
        return None if active is None else Credential(active.principal, secret, active.csrf)

    def _sign_in_required(self, request: Request) -> HTTPException:
        path = request.url.path
        # A program asks these (an integration, a Prometheus scraper): a 401 it can report, not a sign-in page.
        if path == "/api" or path.startswith("/api/") or path == "/metrics":
            return HTTPException(401, "sign in, or give an API token (Authorization: Bearer gwt_...)",
                                 headers={"WWW-Authenticate": "Bearer"})
        here = path + (f"?{request.url.query}" if request.url.query else "")
        return HTTPException(303, "sign in first", headers={"Location": f"/login?next={quote(local_path(here))}"})

    def _login_form(self, target: str, message: str | None = None, name: str = "", status: int = 200) -> Response:
        nonce = secrets.token_urlsafe(24)
        response = HTMLResponse(login_page(target, self._login_token(nonce), message, name), status_code=status,
                                headers=LOGIN_HEADERS)
        response.set_cookie(LOGIN_COOKIE, nonce, max_age=LOGIN_FORM_S, path="/login", httponly=True,
                            samesite="strict", secure=self.settings.secure_cookies)
        return response

    def _login_token(self, nonce: str) -> str:
        return hmac.new(self._key, f"login:{nonce}".encode(), hashlib.sha256).hexdigest()

    def _login_csrf_ok(self, request: Request, submitted: str | None) -> bool:
        """The sign-in form's double submit: its field must be this process's signature of its cookie's nonce
        (another site can neither read the cookie nor plant a matching pair), and it must come from this site."""
        nonce = request.cookies.get(LOGIN_COOKIE)
        try:
            _check_same_site(request, self.settings.behind_proxy)
        except HTTPException:
            return False
        return bool(nonce and submitted) and hmac.compare_digest(self._login_token(nonce), submitted or "")

    def _set_session_cookie(self, response: Response, secret: str) -> None:
        response.set_cookie(SESSION_COOKIE, secret, max_age=int(self.settings.session_hours * 3600), path="/",
                            httponly=True, samesite="strict", secure=self.settings.secure_cookies)

    def _session_cookie_header(self, secret: str) -> str:
        response = Response()
        self._set_session_cookie(response, secret)
        return response.headers["set-cookie"]

    def _signed_out(self) -> Response:
        response = RedirectResponse("/login", status_code=303)
        response.delete_cookie(SESSION_COOKIE, path="/", secure=self.settings.secure_cookies, httponly=True,
                               samesite="strict")
        return response


def local_path(target: str | None) -> str:
    """`target` when it is a path on this server, else `/`: a sign-in must never lead to another site
    (`//evil.example`, `/\\evil.example`, `https://...`) nor back to the sign-in or sign-out pages."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return "/"
    if any(ord(c) < 0x20 or ord(c) == 0x7F for c in target):
        return "/"
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or parts.path.startswith(("/login", "/logout")):
        return "/"
    return target


def client_address(request: Request, behind_proxy: bool) -> str:
    """Where the request came from. Behind a reverse proxy every request comes from the proxy: the address is
    then the last one the proxy added to X-Forwarded-For (the ones before it are the client's to forge)."""
    if behind_proxy:
        forwarded = request.headers.get("x-forwarded-for", "")
        last = forwarded.split(",")[-1].strip()
        if last:
            return last[:100]
    return request.client.host if request.client else "unknown"


async def read_form(request: Request) -> dict[str, str]:
    """The first value of each field of an urlencoded body, read up to MAX_FORM_BYTES (413 beyond). Parsed
    here: FastAPI's Form needs python-multipart, which gunwatch does not install."""
    body = b""
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_FORM_BYTES:
            raise HTTPException(413, "the form is too long")
    fields = parse_qs(body.decode("utf-8", "replace"), keep_blank_values=True)
    return {name: values[0] for name, values in fields.items()}


def _check_same_site(request: Request, behind_proxy: bool) -> None:
    """403 for a request another site's page made the browser send (a form posted from elsewhere). Behind a
    reverse proxy that rewrites Host, the host the browser used is the proxy's X-Forwarded-Host."""
    if request.headers.get("sec-fetch-site") == "cross-site":
        raise HTTPException(403, "refused: the request came from another site")
    origin = request.headers.get("origin")
    if origin is None:
        return  # older browsers and non-browser clients; the CSRF token still has to match
    hosts = {request.headers.get("host", "").lower()}
    if behind_proxy and request.headers.get("x-forwarded-host"):
        hosts.add(request.headers["x-forwarded-host"].split(",")[-1].strip().lower())
    if origin == "null" or urlsplit(origin).netloc.lower() not in hosts:
        raise HTTPException(403, f"refused: the request came from another site ({origin[:100]})")


class _RefreshSessionCookie:
    """Re-sends the session cookie with every response to a session-signed request, so the browser's Max-Age
    slides as the session's expiry does. Plain ASGI (not BaseHTTPMiddleware), so streamed responses (the live
    event stream) pass untouched."""

    def __init__(self, app: asgi.ASGIApp, cookie: Callable[[str], str]):
        self.app = app
        self.cookie = cookie

    async def __call__(self, scope: asgi.Scope, receive: asgi.Receive, send: asgi.Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_cookie(message: asgi.Message) -> None:
            if message["type"] == "http.response.start":
                credential: Any = scope.get("state", {}).get(_STATE_KEY)
                if isinstance(credential, Credential) and credential.session_secret is not None:
                    headers = MutableHeaders(scope=message)
                    if not any(value.startswith(f"{SESSION_COOKIE}=") for value in headers.getlist("set-cookie")):
                        headers.append("set-cookie", self.cookie(credential.session_secret))
            await send(message)

        await self.app(scope, receive, send_with_cookie)
