"""A real browser for the console's end-to-end tests: Debian's chromium driven by Playwright
(gunwatch.bench.browser finds and launches it).

Without chromium or the playwright package the tests that need a browser skip and say why; with
GUNWATCH_REQUIRE_BROWSER=1 (CI) that is a failure instead, so a missing package cannot pass unseen. Defined
once (tests/conftest.py imports it) and per module: Playwright's sync API may run only once at a time in a
thread, and its event loop should not outlive the modules that need it.

    def test_x(browser):                # one browser per test module; each test takes its own context
        page = browser.new_context().new_page()
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import pytest

from gunwatch.bench.browser import BrowserMissing, launched_chromium


@pytest.fixture(scope="module", name="browser")
def browser_fixture() -> Iterator[Any]:
    try:
        with launched_chromium() as browser:
            yield browser
    except BrowserMissing as missing:
        if os.environ.get("GUNWATCH_REQUIRE_BROWSER") == "1":
            pytest.fail(f"{missing} (GUNWATCH_REQUIRE_BROWSER=1)")
        pytest.skip(str(missing))
