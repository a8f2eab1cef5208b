"""Browser tests: Playwright driving Debian's Chromium (`apt-get install
chromium`; Playwright's own browser download is not used) against
pytest-django's live server, with a real Celery worker where a job must run.

Every page a test opens is watched: console errors (CSP violations are
reported there) and requests to any other host fail the test, and such
requests are blocked before they leave the machine. A failed test leaves a
screenshot in tmp/artifacts/."""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import Browser, BrowserContext, ConsoleMessage, Error, Page, sync_playwright

from tests.worker_process import WorkerProcess, running_worker

CHROMIUM = Path(os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium"))
ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = Path(os.environ.get("TEST_ARTIFACTS_DIR", ROOT / "tmp" / "artifacts"))
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if CHROMIUM.exists():
        return
    reason = (
        f"browser tests skipped: no Chromium at {CHROMIUM} (apt-get install chromium, or set CHROMIUM_PATH)"
    )
    here = Path(__file__).parent
    for item in items:
        if item.path.is_relative_to(here):
            item.add_marker(pytest.mark.skip(reason=reason))


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Any:
    report = yield
    setattr(item, f"report_{report.when}", report)
    return report


@pytest.fixture(scope="module")
def browser(django_db_setup: None) -> Iterator[Browser]:
    """One Chromium per test module. While it runs, Playwright's sync API keeps
    an asyncio loop in this thread, which Django takes for an async context
    and refuses ORM calls in; the tests are plain synchronous code, so the
    check is off for the module's duration only (the test database is set up
    before, torn down after)."""
    saved = os.environ.get("DJANGO_ALLOW_ASYNC_UNSAFE")
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    try:
        with sync_playwright() as playwright:
            launched = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
            yield launched
            launched.close()
    finally:
        if saved is None:
            del os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"]
        else:
            os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = saved


class Watched:
    """A page and what went wrong on it."""

    def __init__(self, page: Page, origin: str) -> None:
        self.page = page
        self.origin = origin
        self.console_errors: list[str] = []
        self.foreign_requests: list[str] = []

    def assert_clean(self) -> None:
        assert self.console_errors == [], self.console_errors
        assert self.foreign_requests == [], self.foreign_requests


def _open_context(browser: Browser, live_server: Any, **options: Any) -> tuple[BrowserContext, Watched]:
    context = browser.new_context(base_url=live_server.url, **options)
    page = context.new_page()
    watched = Watched(page, live_server.url)
    host = urlsplit(live_server.url).netloc

    def _route(route: Any) -> None:
        url = urlsplit(route.request.url)
        if url.scheme in ("http", "https") and url.netloc != host:
            watched.foreign_requests.append(route.request.url)
            route.abort()
        else:
            route.continue_()

    def _console(message: ConsoleMessage) -> None:
        if message.type == "error":
            watched.console_errors.append(message.text)

    def _uncaught(error: Error) -> None:
        watched.console_errors.append(f"uncaught: {error}")

    context.route(re.compile(r".*"), _route)
    page.on("console", _console)
    page.on("pageerror", _uncaught)
    return context, watched


def _screenshot_on_failure(request: pytest.FixtureRequest, page: Page, suffix: str = "") -> None:
    report = getattr(request.node, "report_call", None)
    if report is not None and report.failed:
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        name = re.sub(r"[^\w.-]+", "_", request.node.nodeid)
        path = ARTIFACTS / f"{name}{suffix}.png"
        page.screenshot(path=str(path), full_page=True)
        print(f"\nscreenshot of the failed test: {path}")


@pytest.fixture
def watched_page(browser: Browser, live_server: Any, request: pytest.FixtureRequest) -> Iterator[Watched]:
    """A fresh browser context (no cookies) at desktop size."""
    context, watched = _open_context(browser, live_server, viewport={"width": 1280, "height": 900})
    yield watched
    _screenshot_on_failure(request, watched.page)
    context.close()


@pytest.fixture
def second_page(browser: Browser, live_server: Any, request: pytest.FixtureRequest) -> Iterator[Watched]:
    """Another person's browser, at phone size."""
    context, watched = _open_context(
        browser, live_server, viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True
    )
    yield watched
    _screenshot_on_failure(request, watched.page, "-second")
    context.close()


@pytest.fixture
def outbox_dir(settings: Any, tmp_path: Path) -> Path:
    """The development outbox, shared by the live server and the worker."""
    directory = tmp_path / "outbox"
    settings.EMAIL_BACKEND = "dashboard.outbox.OutboxEmailBackend"
    settings.EMAIL_OUTBOX_DIR = directory
    # The outbox page exists in DEBUG only.
    settings.DEBUG = True
    return directory


@pytest.fixture
def solving_worker(transactional_db: None, outbox_dir: Path) -> Iterator[WorkerProcess]:
    """A worker on every queue, mailing into the outbox, solving with the mock
    provider (no OPENAI_API_KEY) quickly enough to watch."""
    env = {
        "EMAIL_BACKEND": "dashboard.outbox.OutboxEmailBackend",
        "EMAIL_OUTBOX_DIR": str(outbox_dir),
        "OPENAI_API_KEY": "",
        "MOCK_PROVIDER_LATENCY_MS": "1500",
    }
    with running_worker(extra_env=env) as worker:
        yield worker
