"""A real browser for the console's end-to-end tests: Debian's chromium driven by Playwright.

Playwright's own browser download does not work here; its `executable_path` drives the system's chromium.
The binary comes from $GUNWATCH_CHROMIUM, /usr/bin/chromium (Debian: `apt-get install -y chromium`) or PATH.
Without it (or without the playwright package) the tests that need a browser skip and say why; with
GUNWATCH_REQUIRE_BROWSER=1 (CI) that is a failure instead, so a missing package cannot pass unseen.

    def test_x(browser):                # one browser for the session; each test takes its own context
        page = browser.new_context().new_page()
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

APT_PACKAGE = "chromium"
# Sound without a click first (the banner's alarm), and no sandbox: CI runs as root in a container.
ARGS = ["--no-sandbox", "--autoplay-policy=no-user-gesture-required", "--disable-dev-shm-usage"]


def chromium_path() -> Path | None:
    for candidate in (os.environ.get("GUNWATCH_CHROMIUM"), "/usr/bin/chromium", shutil.which("chromium"),
                      shutil.which("chromium-browser")):
        if candidate and Path(candidate).is_file():
            return Path(candidate)
    return None


def _missing(reason: str) -> None:
    if os.environ.get("GUNWATCH_REQUIRE_BROWSER") == "1":
        pytest.fail(f"{reason} (GUNWATCH_REQUIRE_BROWSER=1)")
    pytest.skip(reason)


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _missing("the playwright package is not installed (pip install playwright)")
    executable = chromium_path()
    if executable is None:
        _missing(f"no chromium (apt-get install -y {APT_PACKAGE}, or set GUNWATCH_CHROMIUM)")
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=str(executable), args=ARGS)
        try:
            yield launched
        finally:
            launched.close()
