"""The `console` section: the web console, REST API, metrics and the action links, on one HTTP(S) server.

    console:
      listen: 0.0.0.0:8780
      tls: {cert: /etc/gunwatch/tls/fullchain.pem, key: /etc/gunwatch/tls/privkey.pem}

Without the section `gunwatch watch` serves no console (and the action links, when configured, on
`alerts.links.listen` as before). With it, the links are served by the console's server and lead into it.
"""

from __future__ import annotations

from pydantic import Field, model_validator

from gunwatch.config.alerts import LinkTls, ListenAddress, listens_on_loopback
from gunwatch.config.base import StrictModel
from gunwatch.config.errors import ReferenceProblems


class ConsoleSettings(StrictModel):
    """Beyond this machine the console needs TLS (session cookies and passwords are credentials), unless
    `behind_proxy` says an HTTPS reverse proxy in front of it ends TLS (it then listens on loopback)."""

    listen: ListenAddress = Field("127.0.0.1:8780", description="host:port the console, API and links listen on")
    tls: LinkTls | None = Field(None, description="certificate and key: the console serves HTTPS only")
    behind_proxy: bool = Field(False, description="an HTTPS reverse proxy ends TLS in front of the console: "
                                                  "cookies are marked Secure although it speaks HTTP")
    session_hours: float = Field(12.0, gt=0, le=24 * 30, description="how long a sign-in lasts without use")
    login_attempts: int = Field(5, ge=1, le=100, description="failed sign-ins per user and address in "
                                                             "login_window_s before further tries are refused")
    login_window_s: float = Field(900.0, gt=0, le=86400)
    live_fps: float = Field(2.0, gt=0, le=15, description="frames a second each camera shows on the live wall")

    @property
    def loopback(self) -> bool:
        return listens_on_loopback(self.listen)

    @property
    def secure_cookies(self) -> bool:
        return self.tls is not None or self.behind_proxy

    @model_validator(mode="after")
    def _secure(self) -> ConsoleSettings:
        if self.tls is None and not self.loopback:
            raise ReferenceProblems([("tls", f"the console listens beyond this machine (listen: {self.listen}) and "
                                             "needs tls (cert and key), or listen on 127.0.0.1 behind an HTTPS "
                                             "reverse proxy (behind_proxy: true): passwords and session cookies "
                                             "must not cross a network in the clear")])
        return self
