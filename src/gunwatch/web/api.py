"""The REST API under /api: events (list, get, act, evidence), cameras and their health and frames, channel health,
protocol runs, and the live stream. Every route acts as the principal the auth dependency gives, through the
service layer, so the API does what the console, the CLI and the links do.

    app.include_router(api_router(events, cameras, channels, runs, principal_dependency, feed=feed))

`principal_dependency` is a FastAPI dependency returning the request's `Principal` (gunwatch.web.auth: a
session cookie or a bearer token), refusing with 401 itself. Errors: 404 for an unknown id and for one the
principal may not see, 403 for a missing scope, 409 for an action that no longer applies, 422 for bad input,
503 when the store is down; each with a `detail` in words.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, FastAPI, HTTPException, Query, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, JSONResponse

from gunwatch.alerts.event_actions import ActionRefused, ActionResult
from gunwatch.events.store.errors import StoreError
from gunwatch.service.cameras import MAX_HISTORY, CameraService
from gunwatch.service.channels import WINDOW_S, ChannelService
from gunwatch.service.errors import InvalidRequest, NotFound
from gunwatch.service.events import MAX_EPOCH, MAX_LIMIT, EventFilter, EventService
from gunwatch.service.feed import EventFeed
from gunwatch.service.runs import RunService
from gunwatch.users.principal import AccessDenied, Principal
from gunwatch.web.api_models import (
    ActionIn,
    ActionResultOut,
    CameraOut,
    ChannelOut,
    ErrorOut,
    EventDetailOut,
    EventPageOut,
    EventSummaryOut,
    HealthOut,
    RunOut,
)
from gunwatch.web.stream import stream_router

log = logging.getLogger(__name__)

EvidenceKind = Literal["snapshot", "annotated", "clip"]
ActionName = Literal["ack", "confirm", "false_alarm", "false-alarm", "resolve"]
MEDIA_TYPES = {"snapshot": "image/jpeg", "annotated": "image/jpeg", "clip": "video/mp4"}
PRIVATE = {"Cache-Control": "no-store"}  # evidence and frames are nobody's cache's business
ERRORS: dict[int | str, dict[str, Any]] = {
    401: {"model": ErrorOut, "description": "no credential, or one that is not (or no longer) valid: a session "
                                            "cookie or `Authorization: Bearer gwt_...`"},
    403: {"model": ErrorOut, "description": "the principal lacks the scope"},
    404: {"model": ErrorOut, "description": "unknown, or outside the principal's camera access"},
    422: {"model": ErrorOut, "description": "bad input"},
    503: {"model": ErrorOut, "description": "the event store cannot be reached"},
}


@contextmanager
def http_errors() -> Iterator[None]:
    """The service layer's refusals as HTTP statuses, with their own words."""
    try:
        yield
    except NotFound as error:
        raise HTTPException(404, str(error)) from None
    except AccessDenied as error:
        raise HTTPException(403, str(error)) from None
    except ActionRefused as error:
        raise HTTPException(409, str(error)) from None
    except InvalidRequest as error:
        raise HTTPException(422, str(error)) from None
    except StoreError as error:
        log.error("api: %s", error)
        raise HTTPException(503, "the event store cannot be reached right now") from None


def api_router(events: EventService, cameras: CameraService, channels: ChannelService, runs: RunService,
               principal_dependency: Callable[..., Any], feed: EventFeed | None = None,
               on_action: Callable[[ActionResult], None] | None = None,
               act_dependency: Callable[..., Any] | None = None) -> APIRouter:
    """`feed`: serves /api/stream when given. `on_action` is called after each action (the alert service
    wakes its dispatcher, so cancels go out at once); its errors are logged: the action is already done.
    `act_dependency`: the principal of a state-changing request (the actions), which must also check CSRF
    for a session cookie (gunwatch.web.auth's `csrf_checked`); `principal_dependency` when not given."""
    router = APIRouter(prefix="/api", responses=ERRORS)
    # A default, not an Annotated alias: annotations are strings here, and a local alias would not resolve.
    signed_in = Depends(principal_dependency)
    acting = Depends(act_dependency or principal_dependency)

    # Plain `def` handlers: the store is blocking, so FastAPI runs them in its thread pool.
    @router.get("/events", response_model=EventPageOut, tags=["events"])
    def list_events(
        camera: Annotated[list[str] | None, Query(description="cameras (repeat the parameter)")] = None,
        since: Annotated[float | None, epoch("confirmed at or after")] = None,
        until: Annotated[float | None, epoch("confirmed before")] = None,
        state: Annotated[list[str] | None, Query(description="open, updated, closed")] = None,
        disposition: Annotated[list[str] | None, Query(description="acknowledged, confirmed, false_alarm, "
                                                                   "resolved, none")] = None,
        limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = 50,
        before: Annotated[str | None, Query(description="next_before of the previous page")] = None,
        principal: Principal = signed_in,
    ) -> EventPageOut:
        with http_errors():
            filter = EventFilter(_set(camera), since, until, _set(state), _set(disposition), limit, before)
            found = events.list(principal, filter)
        next_before = found[-1].event.id if len(found) == limit else None
        return EventPageOut(events=[EventSummaryOut.of(s) for s in found], next_before=next_before)

    @router.get("/events/{event_id}", response_model=EventDetailOut, tags=["events"])
    def get_event(event_id: str, principal: Principal = signed_in) -> EventDetailOut:
        with http_errors():
            return EventDetailOut.of(events.get(principal, event_id))

    @router.post("/events/{event_id}/actions/{action}", response_model=ActionResultOut, tags=["events"],
                 responses={409: {"model": ErrorOut, "description": "the action no longer applies"},
                            400: {"model": ErrorOut, "description": "a body that cannot be read (not UTF-8 JSON)"}})
    def act(event_id: str, action: ActionName, body: ActionIn | None = None,
            principal: Principal = acting) -> ActionResultOut:
        note = None if body is None or body.note is None else body.note.strip() or None
        with http_errors():
            result = events.act(principal, event_id, action, note)
        _after_action(result, on_action, feed)
        return ActionResultOut.of(result)

    @router.get("/events/{event_id}/{which}", tags=["events"], response_class=FileResponse,
                responses={200: {"content": {"image/jpeg": {}, "video/mp4": {}},
                                 "description": "the file; a clip honours Range (seekable)"}})
    def evidence(event_id: str, which: EvidenceKind, principal: Principal = signed_in) -> Response:
        with http_errors():
            path = events.evidence_path(principal, event_id, which)
        if path is None:
            raise HTTPException(404, f"event {event_id} has no {which} (yet)")
        if which == "clip":  # FileResponse answers Range requests (206), so a browser's <video> can seek in it
            return FileResponse(path, media_type=MEDIA_TYPES[which], headers=PRIVATE)
        # A better frame replaces an open event's pictures (renamed into place). FileResponse takes the length
        # from one look at the path and the bytes from another, so a picture replaced in between came out
        # broken in the console; read once, the length and the bytes are the same file's.
        try:
            picture = path.read_bytes()
        except FileNotFoundError:
            raise HTTPException(404, f"event {event_id} has no {which} (yet)") from None
        return Response(picture, media_type=MEDIA_TYPES[which], headers=PRIVATE)

    @router.get("/cameras", response_model=list[CameraOut], tags=["cameras"])
    def list_cameras(principal: Principal = signed_in) -> list[CameraOut]:
        with http_errors():
            return [CameraOut.of(view) for view in cameras.list(principal)]

    @router.get("/cameras/{name}/health", response_model=list[HealthOut], tags=["cameras"])
    def camera_health(name: str,
                      since: Annotated[float | None, epoch("changes at or after")] = None,
                      limit: Annotated[int, Query(ge=1, le=MAX_HISTORY)] = 100,
                      principal: Principal = signed_in) -> list[HealthOut]:
        with http_errors():
            return [HealthOut.of(change) for change in cameras.health_history(principal, name, since, limit)]

    @router.get("/cameras/{name}/frame.jpg", tags=["cameras"], response_class=Response,
                responses={200: {"content": {"image/jpeg": {}},
                                 "description": "the newest analysed frame, boxes drawn; X-Frame-Time: epoch s"}})
    def camera_frame(name: str, principal: Principal = signed_in) -> Response:
        with http_errors():
            jpeg, at = cameras.frame(principal, name)
        return Response(jpeg, media_type="image/jpeg", headers={**PRIVATE, "X-Frame-Time": f"{at:.3f}"})

    @router.get("/channels", response_model=list[ChannelOut], tags=["alerts"])
    def list_channels(window_s: Annotated[float, Query(gt=0, le=30 * 86400, allow_inf_nan=False)] = WINDOW_S,
                      principal: Principal = signed_in) -> list[ChannelOut]:
        with http_errors():
            return [ChannelOut.of(health) for health in channels.list(principal, window_s)]

    @router.get("/runs", response_model=list[RunOut], tags=["alerts"])
    def list_runs(event_id: str | None = None, state: str | None = None,
                  limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = 100,
                  principal: Principal = signed_in) -> list[RunOut]:
        with http_errors():
            return [RunOut.of(run) for run in runs.list(principal, event_id, state, limit)]

    if feed is not None:
        router.include_router(stream_router(feed, principal_dependency))
    return router


def validation_errors_in_words(app: FastAPI) -> None:
    """Requests FastAPI refuses before a route runs (a query parameter that is not a number, an unknown action, a
    body that is not JSON) get the 422 the schema documents: `detail` in words, as every other error, rather than
    pydantic's list of error objects."""

    @app.exception_handler(RequestValidationError)
    async def _in_words(_: Request, error: RequestValidationError) -> JSONResponse:
        return JSONResponse({"detail": validation_text(error.errors())}, status_code=422)


def validation_text(errors: Any) -> str:
    """`query parameter since: Input should be a valid number (got 'yesterday'); body note: ...`."""
    said = []
    for error in errors:
        if error.get("type") == "json_invalid":  # loc: ("body", offset); input: nothing useful
            said.append(f"body: not JSON ({error.get('ctx', {}).get('error', 'cannot be decoded')})")
            continue
        where, *path = [str(part) for part in error.get("loc", ())] or ["request"]
        name = ".".join(path)
        if where in ("query", "path", "header", "cookie") and name:
            place = f"{where} parameter {name}"
        else:
            place = f"{where} {name}".strip()
        given = error.get("input")
        # The whole body is not repeated back (it may be long); a parameter's or a field's value is, cut short.
        shown = "" if given is None or not path else f" (got {str(given)[:60]!r})"
        said.append(f"{place}: {error.get('msg', 'not valid')}{shown}")
    return "; ".join(said) or "the request is not valid"


def epoch(description: str) -> Any:
    """A time the store can hold: it becomes a date, which NaN or year 10000 cannot be."""
    return Query(ge=0, le=MAX_EPOCH, allow_inf_nan=False, description=f"{description} (epoch seconds)")


def _set(values: list[str] | None) -> frozenset[str] | None:
    return None if values is None else frozenset(values)


def _after_action(result: ActionResult, on_action: Callable[[ActionResult], None] | None,
                  feed: EventFeed | None) -> None:
    if feed is not None:
        feed.wake()  # every open console shows the new disposition at once
    if on_action is None:
        return
    try:
        on_action(result)
    except Exception:
        log.exception("api: on_action failed after %s of event %s", result.disposition, result.event_id)
