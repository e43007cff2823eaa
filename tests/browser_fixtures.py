"""The Playwright fixtures every browser test uses: Debian's chromium, one page per test that
fails the test on a script error, a Content-Security-Policy violation or a failed request,
and numbered screenshots under test-artifacts/screenshots/.

A test module may declare what it provokes on purpose:
    EXPECTED_XHR_STATUS = {("/attribution/", 422)}   # (path, status) of expected failures
    EXPECTED_CONSOLE = ("Response Status Error Code 422 from /attribution/",)
Loaded for every test by `-p tests.browser_fixtures` in pyproject.toml's pytest options.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Generator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, ConsoleMessage, Page, Response, sync_playwright

SCREENSHOTS = Path(__file__).resolve().parents[1] / "test-artifacts" / "screenshots"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]


@pytest.fixture(scope="module")  # one Playwright at a time: two alive at once fail
def browser() -> Generator[Browser]:
    if not Path(CHROMIUM).exists():
        pytest.skip("browser tests need Debian's chromium at /usr/bin/chromium")
    # Playwright's sync API keeps an event loop on this thread; the test's own ORM calls are
    # plain synchronous code that Django would otherwise refuse next to a running loop.
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()
    os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)


@pytest.fixture
def page(browser: Browser, request: pytest.FixtureRequest) -> Generator[Page]:
    expected_xhr = getattr(request.module, "EXPECTED_XHR_STATUS", set())
    expected_console = tuple(getattr(request.module, "EXPECTED_CONSOLE", ()))
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    context.set_default_timeout(5000)
    tab = context.new_page()
    problems: list[str] = []

    def on_console(message: ConsoleMessage) -> None:
        # A page answered 403 or 404 on purpose is logged as "Failed to load resource";
        # sub-resources are checked by status below instead.
        if message.text.startswith(("Failed to load resource", *expected_console)):
            return
        if message.type == "error" or "Content Security Policy" in message.text:
            problems.append(f"{tab.url}: {message.text}")

    def on_response(response: Response) -> None:
        path = re.sub(r"^https?://[^/]+", "", response.url)
        if response.request.resource_type != "document" and response.status >= 400 \
                and (path, response.status) not in expected_xhr:
            problems.append(f"{response.url} answered {response.status}")

    tab.on("console", on_console)
    tab.on("response", on_response)
    tab.on("pageerror", lambda error: problems.append(f"{tab.url}: {error}"))
    yield tab
    context.close()
    assert problems == [], f"browser reported errors: {problems}"


@pytest.fixture
def shoot(page: Page, request: pytest.FixtureRequest) -> Callable[[str], None]:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)

    def save(step: str) -> None:
        page.screenshot(path=str(SCREENSHOTS / f"{request.node.name}-{step}.png"),
                        full_page=True)

    return save
