"""Browser tests: Playwright driving Debian's Chromium against a real studio.

Chromium is required under CI=true (``.ci/run`` installs it); elsewhere, without it, these
tests are skipped with the reason.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.live import IN_CI, LiveStudio, live_studio

CHROMIUM = os.environ.get("SEXTANT_CHROMIUM", "/usr/bin/chromium")
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


@pytest.fixture(scope="session")
def chromium() -> Iterator[Any]:
    if not Path(CHROMIUM).exists():
        if IN_CI:
            pytest.fail(f"CI=true but Chromium is not installed at {CHROMIUM}.")
        pytest.skip(f"Chromium is not installed at {CHROMIUM} (apt-get install chromium).")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        yield browser
        browser.close()


@pytest.fixture(scope="module")
def studio(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[LiveStudio]:
    var = tmp_path_factory.mktemp("browser-studio")
    with live_studio("embedded", var, show_logs=lambda: bool(request.session.testsfailed)) as live:
        yield live


@pytest.fixture
def browser_page(chromium: Any, studio: LiveStudio, tmp_path: Path) -> Iterator[Any]:
    context = chromium.new_context(viewport={"width": 1280, "height": 800}, base_url=studio.url)
    page = context.new_page()
    yield page
    if hasattr(page, "screenshot"):
        page.screenshot(path=str(tmp_path / "last.png"), full_page=True)
    context.close()
