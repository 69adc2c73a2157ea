"""The console, REST API, API docs and metrics, put together on the one web server of `watch` and `serve`.

    console = Console.build(store, actions, site.console, live=PipelineLiveView(service), channels=[...])
    app = create_app(store, actions, link_secret, on_action, alive, console=console)   # gunwatch.web.app
    ...
    console.close()

The pieces share one service layer (gunwatch.service) and one ConsoleAuth, so the console's pages, the API
and the metrics see exactly what the principal may see.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass

from fastapi import FastAPI

from gunwatch.alerts.event_actions import ActionResult, EventActions
from gunwatch.config.console import ConsoleSettings
from gunwatch.events.store import EventStore
from gunwatch.service.cameras import CameraService
from gunwatch.service.channels import ChannelService
from gunwatch.service.events import EventService
from gunwatch.service.feed import EventFeed
from gunwatch.service.live import LiveView
from gunwatch.service.runs import RunService
from gunwatch.users.store import UserStore
from gunwatch.web.api import api_router, validation_errors_in_words
from gunwatch.web.auth import ConsoleAuth
from gunwatch.web.console import ConsoleServices, console_router
from gunwatch.web.docs import docs_router
from gunwatch.web.metrics import metrics_router


@dataclass
class Console:
    store: EventStore
    settings: ConsoleSettings
    auth: ConsoleAuth
    services: ConsoleServices
    feed: EventFeed

    @classmethod
    def build(cls, store: EventStore, actions: EventActions, settings: ConsoleSettings, live: LiveView | None = None,
              channels: Iterable[str] = ()) -> Console:
        """The console over `store`; `live`: the running watch's frames and rates (None in `gunwatch serve`)."""
        users = UserStore(store, session_hours=settings.session_hours)
        services = ConsoleServices(EventService(store, actions), CameraService(store, live),
                                   ChannelService(store, channels), RunService(store))
        return cls(store, settings, ConsoleAuth(users, settings), services, EventFeed(store))

    def install(self, app: FastAPI, on_action: Callable[[ActionResult], None] | None = None) -> None:
        """Sign-in routes, pages, the API with its live stream and docs; starts the change feed."""
        self.auth.install(app)
        signed_in = self.auth.principal
        app.include_router(console_router(self.auth, self.services, self.settings, on_action))
        services = self.services
        # Actions from a browser session need its CSRF token (the X-CSRF-Token header); tokens need none.
        app.include_router(api_router(services.events, services.cameras, services.channels, services.runs,
                                      signed_in, feed=self.feed, on_action=on_action,
                                      act_dependency=self.auth.csrf_checked))
        validation_errors_in_words(app)
        app.include_router(docs_router(signed_in))
        app.include_router(metrics_router(self.store, services.cameras.live, signed_in))
        self.feed.start()

    def wake(self) -> None:
        """Something was stored just now (an event): look at once rather than at the next poll."""
        self.feed.wake()

    def close(self) -> None:
        self.feed.stop()
