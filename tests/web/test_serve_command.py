"""`gunwatch serve`: the console against a store, with no cameras; refused without a console section; HTTPS
only when the site file gives a certificate."""

from __future__ import annotations

import re
import ssl
import threading
from pathlib import Path

import httpx
import pytest

from gunwatch.config import ConfigError
from gunwatch.events.store import EventStore
from gunwatch.users.store import UserStore
from gunwatch.web.serve_command import serve
from service.conftest import threat
from support.smtp_server import free_port, self_signed_tls
from support.waiting import wait_until

PASSWORD = "correct horse battery"


def site_file(folder: Path, console: str) -> Path:
    path = folder / "site.yaml"
    path.write_text(f'cameras:\n  lobby: {{url: "{folder / "lobby.mp4"}"}}\n'
                    f'store: {{url: "sqlite:///{folder / "events.db"}"}}\n{console}')
    return path


def test_without_a_console_section_it_says_what_to_add(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="console"):
        serve(site_file(tmp_path, ""))


def test_it_serves_the_stores_events_over_https_only(tmp_path: Path) -> None:
    files = self_signed_tls(tmp_path)
    port = free_port()
    config = site_file(tmp_path, f"console: {{listen: '127.0.0.1:{port}', tls: {{cert: '{files.cert}', "
                                 f"key: '{files.key}'}}}}\n")
    with EventStore(f"sqlite:///{tmp_path / 'events.db'}") as store:
        UserStore(store).add_user("olga", "operator", PASSWORD)
        event = threat("lobby")
        store.save_event(event)
    ready, stop = threading.Event(), threading.Event()
    server = threading.Thread(target=serve, args=(config, ready, stop), daemon=True)
    server.start()
    try:
        assert ready.wait(60), "gunwatch serve did not start"
        trusted = ssl.create_default_context(cafile=str(files.cert))
        with httpx.Client(base_url=f"https://127.0.0.1:{port}", verify=trusted, timeout=10) as browser:
            form = browser.get("/login")
            csrf = re.search(r'name="csrf" value="([^"]+)"', form.text).group(1)  # type: ignore[union-attr]
            signed = browser.post("/login", data={"csrf": csrf, "name": "olga", "password": PASSWORD, "next": "/"})
            assert signed.status_code == 303
            assert "secure" in signed.headers["set-cookie"].lower()  # under TLS the cookie never goes in clear
            assert event.id in browser.get("/events").text
        with pytest.raises(httpx.HTTPError):
            httpx.get(f"http://127.0.0.1:{port}/login", timeout=5)
    finally:
        stop.set()
        server.join(30)
    assert wait_until(lambda: not server.is_alive(), 30)
