"""The web endpoint behind the action links in alerts (acknowledge, confirm, false alarm, resolve).

    app = create_app(store, actions, secret, on_action=lambda result: dispatcher.wake())
    server = LinkServer(app, *parse_listen(settings.links.listen), tls=settings.links.tls).start()
    ...
    server.stop()

Kept import-light: `gunwatch.web.app` and `gunwatch.web.server` pull in FastAPI and uvicorn only when used.
"""

from __future__ import annotations
