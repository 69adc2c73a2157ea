"""GET /api/stream: the change feed as Server-Sent Events, for the console's alert banner and live pages.

    retry: 3000
    : connected 4f2a9c1e

    id: 4f2a9c1e-17
    event: event
    data: {"id": "4f2a9c1e-17", "kind": "event", "camera": "lobby", "event_id": "...", "state": "open", ...}

    : heartbeat

Each item says what changed (an event, a disposition, a delivery, a camera's health), not the whole thing:
the page fetches it from the API. A `resync` item means the client missed changes (it fell behind, or
reconnected after too long): it reloads what it shows. A browser's EventSource reconnects by itself with
Last-Event-ID, and gets what it missed. The heartbeat keeps proxies from closing an idle stream and lets the
server notice a client that left.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator, Callable
from dataclasses import asdict
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header, HTTPException
from fastapi.responses import StreamingResponse

from gunwatch.service.feed import EventFeed, FeedItem, Subscription
from gunwatch.users.principal import AccessDenied, Principal

HEARTBEAT_S = 15.0
RETRY_MS = 3000


def stream_router(feed: EventFeed, principal_dependency: Callable[..., Any], heartbeat_s: float = HEARTBEAT_S,
                  retry_ms: int = RETRY_MS) -> APIRouter:
    """The /stream route (included under /api by `api_router`)."""
    router = APIRouter()
    signed_in = Depends(principal_dependency)  # a default: a string annotation could not name a local

    @router.get("/stream", tags=["events"], response_class=StreamingResponse,
                responses={200: {"content": {"text/event-stream": {}},
                                 "description": "Server-Sent Events: event, disposition, delivery, health, resync"}})
    async def stream(last_event_id: Annotated[str | None, Header(max_length=100)] = None,
                     principal: Principal = signed_in) -> StreamingResponse:
        try:
            principal.require("events:read")
        except AccessDenied as error:
            raise HTTPException(403, str(error)) from None
        loop = asyncio.get_running_loop()
        ready = asyncio.Event()

        def notify() -> None:  # called on the feed's thread
            with contextlib.suppress(RuntimeError):  # the loop closed: the server is stopping
                loop.call_soon_threadsafe(ready.set)

        subscription = feed.subscribe(principal, last_event_id, notify)
        return StreamingResponse(_events(subscription, ready, feed.feed_id, heartbeat_s, retry_ms),
                                 media_type="text/event-stream",
                                 headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"})

    return router


async def _events(subscription: Subscription, ready: asyncio.Event, feed_id: str, heartbeat_s: float,
                  retry_ms: int) -> AsyncIterator[str]:
    try:
        yield f"retry: {retry_ms}\n: connected {feed_id}\n\n"
        while not subscription.closed:
            ready.clear()  # before draining: an item queued after the drain sets it again
            while (item := subscription.get_nowait()) is not None:
                yield sse_text(item)
            try:
                await asyncio.wait_for(ready.wait(), heartbeat_s)
            except TimeoutError:
                yield ": heartbeat\n\n"
    finally:
        subscription.close()


def sse_text(item: FeedItem) -> str:
    data = {name: value for name, value in asdict(item).items() if name != "seq"}
    return f"id: {item.id}\nevent: {item.kind}\ndata: {json.dumps(data, separators=(',', ':'))}\n\n"
