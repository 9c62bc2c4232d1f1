"""Playwright fixtures for browser tests: Debian's chromium, pages that fail on console errors, screenshots.

Use in a test module: `from tests.browser_support import browser, page, assert_no_console_errors, screenshot`
(`browser` is module-scoped: one chromium per test file; `page` gives a fresh context per test).
"""

from __future__ import annotations

import os
import shutil
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator

import pytest

CHROMIUM = os.environ.get("PDXSRV_CHROMIUM", "/usr/bin/chromium")
VIEWPORT = {"width": 1280, "height": 800}
ARTIFACTS = Path(os.environ.get("PDXSRV_ARTIFACTS") or Path(__file__).resolve().parent / "artifacts")
# Without the background-networking flags chromium keeps trying to reach Google's services,
# which floods a closed network and slows everything else down.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-default-apps",
    "--disable-extensions",
    "--disable-dev-shm-usage",
    "--no-default-browser-check",
    "--metrics-recording-only",
]


def chromium_missing() -> str | None:
    """Why browser tests cannot run here, or None."""
    try:
        import playwright  # noqa: F401
    except ImportError:
        return "playwright is not installed (pip install -e '.[test]')"
    if not (os.path.exists(CHROMIUM) or shutil.which(CHROMIUM)):
        return f"{CHROMIUM} is missing (apt-get install chromium; .ci/run does it)"
    return None


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """One headless chromium for the test module."""
    why = chromium_missing()
    if why:
        pytest.skip(why)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        try:
            yield b
        finally:
            b.close()


class ConsoleErrors(list):
    """Console errors and uncaught page errors seen by one page, as strings."""


def new_page(browser: Any, **context_args: Any) -> Any:
    """A page at 1280×800 in a fresh context that records its console errors in `page.console_errors`."""
    context = browser.new_context(viewport=VIEWPORT, accept_downloads=True, **context_args)
    page = context.new_page()
    errors = ConsoleErrors()
    page.on("console", lambda msg: errors.append(f"console.{msg.type}: {msg.text}") if msg.type == "error" else None)
    page.on("pageerror", lambda exc: errors.append(f"pageerror: {exc}"))
    page.console_errors = errors  # type: ignore[attr-defined]
    page.set_default_timeout(30_000)
    return page


def assert_no_console_errors(page: Any, allow: tuple[str, ...] = ()) -> None:
    """Fail when the page logged a console error or threw, except messages containing one of `allow`."""
    errors = [e for e in page.console_errors if not any(a in e for a in allow)]
    assert not errors, "console errors:\n" + "\n".join(errors)


@contextmanager
def browsing(browser: Any, server: Any, name: str) -> Iterator[Any]:
    """A fresh page for a test against `server`; a failure leaves `failed-<name>.png`; after it, the page is
    closed and the server stopped, with its supervisor and jobs when it has them."""
    page = new_page(browser)
    try:
        yield page
    except BaseException:
        screenshot(page, f"failed-{name}")
        raise
    finally:
        page.context.close()
        server.stop()
        if server.supervise:
            server.shutdown_supervisor()


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    """A fresh page; the test fails if it logged any console error or uncaught exception."""
    p = new_page(browser)
    try:
        yield p
        assert_no_console_errors(p)
    finally:
        p.context.close()


def screenshot(page: Any, name: str) -> Path:
    """Save a 1280×800 PNG of the page's viewport as `<artifacts>/<name>.png`; return its path."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / (name if name.endswith(".png") else name + ".png")
    page.set_viewport_size(VIEWPORT)
    page.screenshot(path=str(path), full_page=False)
    return path
