"""A real browser for measurements: the system's chromium (Debian: `apt-get install chromium`) driven by
Playwright (`pip install playwright`; its own browser download is not needed). Shared by `gunwatch bench
console` and the console's end-to-end tests."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

# Sound without a click first (the banner's alarm), and no sandbox: CI runs as root in a container.
CHROMIUM_ARGS = ["--no-sandbox", "--autoplay-policy=no-user-gesture-required", "--disable-dev-shm-usage"]


class BrowserMissing(RuntimeError):
    """Playwright or chromium is not installed; the message says how to install it."""


def chromium_path() -> Path | None:
    """$GUNWATCH_CHROMIUM, /usr/bin/chromium, or chromium on PATH."""
    for candidate in (os.environ.get("GUNWATCH_CHROMIUM"), "/usr/bin/chromium", shutil.which("chromium"),
                      shutil.which("chromium-browser")):
        if candidate and Path(candidate).is_file():
            return Path(candidate)
    return None


@contextmanager
def launched_chromium() -> Iterator[Any]:
    """A headless chromium (a Playwright Browser), closed on leaving."""
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        raise BrowserMissing("the playwright package is not installed (pip install playwright)") from None
    executable = chromium_path()
    if executable is None:
        raise BrowserMissing("no chromium found: apt-get install -y chromium, or set GUNWATCH_CHROMIUM")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(executable), args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


def sign_in(browser: Any, url: str, name: str, password: str, viewport: tuple[int, int] = (1280, 800)) -> Any:
    """A new browser context signed in to the console at `url` as `name`: its page, on the live wall."""
    page = browser.new_context(viewport={"width": viewport[0], "height": viewport[1]}).new_page()
    page.goto(f"{url}/login")
    page.fill("#name", name)
    page.fill("#password", password)
    page.click("button[type=submit]")
    page.wait_for_url(f"{url}/")
    return page
