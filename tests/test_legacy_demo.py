"""A legacy-style page (tests/legacy_page.html, standing in for the original web demo) drives pdxsrv in chromium:
cross-origin (its own static server, pdxsrv run with --cors-origin) and same-origin (--legacy-demo)."""

from __future__ import annotations

import functools
import http.server
import json
import os
import threading
from typing import Any, Iterator

import pytest

from pdxsrv.datasets.synthetic import make
from tests.browser_support import assert_no_console_errors, browser, new_page, screenshot  # noqa: F401
from tests.conftest import Server

PAGE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "legacy_page.html")
TINY = {"model": "MobileNetV3_small", "num_epochs": 1, "save_interval_epochs": 1, "image_shape": [32, 32],
        "batch_size": 2, "pretrain_weights": None}
# A first step at a learning rate of 1e30 leaves infinite weights: the loss is nan at the next step.
FAILING = {**TINY, "optimizer": "Momentum", "warmup_steps": 10, "warmup_start_lr": 1e30}


@pytest.fixture(scope="module")
def source(tmp_path_factory: pytest.TempPathFactory) -> str:
    """A few generated classification images (the import copies them; the source is shared)."""
    path = str(tmp_path_factory.mktemp("legacy-data") / "images")
    make("classification", path, images=8, size=32, seed=7)
    return path


@pytest.fixture
def static_site() -> Iterator[str]:
    """The page on its own origin: a static file server on another port."""
    handler = functools.partial(_Quiet, directory=os.path.dirname(PAGE))
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}"
    finally:
        httpd.shutdown()
        httpd.server_close()


class _Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def server_factory(tmp_path) -> Iterator[Any]:
    started: list[Server] = []

    def start(*extra: str) -> Server:
        srv = Server(str(tmp_path / "ws"), "--allow-path", str(tmp_path.parent), *extra, supervise=True)
        started.append(srv)
        return srv

    yield start
    for srv in started:
        srv.stop()
        srv.shutdown_supervisor()


def _status(page: Any) -> str:
    return page.locator("#status").inner_text()


def _wait_status(page: Any, prefix: str, timeout_s: float = 240) -> str:
    page.wait_for_function(
        "([prefix]) => { const t = document.getElementById('status').textContent;"
        " return t.startsWith(prefix) || t.startsWith('error'); }",
        arg=[prefix], timeout=timeout_s * 1000)
    text = _status(page)
    assert text.startswith(prefix), text
    return text


def drive(page: Any, source: str, name: str) -> None:
    """What a person does on the page: connect, import and split, train a task, train one that fails, read its log."""
    page.click("#connect")
    _wait_status(page, "connected", 30)
    page.fill("#source", source)
    page.click("#create")
    assert "8 images" in _wait_status(page, "dataset D0001 split", 120)
    page.fill("#params", json.dumps(TINY))
    page.click("#train")
    assert _wait_status(page, "task T0001 status 4") == "task T0001 status 4"  # XTRAINDONE
    page.fill("#params", json.dumps(FAILING))
    page.click("#train")
    failed = _wait_status(page, "task T0002 status 10")  # XTRAINFAIL
    assert "the loss became nan" in failed
    page.click("#errlog")
    _wait_status(page, "err.log of T0002", 30)
    log = page.locator("#log").inner_text()
    assert log.rstrip().endswith(failed.split(": ", 1)[1].rstrip()), log[-1000:]
    screenshot(page, name)
    assert_no_console_errors(page)


def test_the_page_on_its_own_origin_works_with_cors(browser, server_factory, static_site, source) -> None:  # noqa: F811
    server = server_factory("--cors-origin", static_site)
    page = new_page(browser)
    try:
        page.goto(static_site + "/legacy_page.html")
        assert page.input_value("#srv") == "http://0.0.0.0:8080"
        page.fill("#srv", server.url)
        drive(page, source, "legacy-page-cross-origin")
    finally:
        page.context.close()


def test_without_cors_the_page_on_another_origin_is_blocked(browser, server_factory, static_site) -> None:  # noqa: F811
    server = server_factory()
    page = new_page(browser)
    try:
        page.goto(static_site + "/legacy_page.html")
        page.fill("#srv", server.url)
        page.click("#connect")
        assert _wait_status(page, "error", 30).startswith("error: GET /workspace: no answer")
    finally:
        page.context.close()


def test_the_page_served_by_pdxsrv_calls_the_server_it_came_from(browser, server_factory, source) -> None:  # noqa: F811
    server = server_factory("--legacy-demo", PAGE)
    page = new_page(browser)
    try:
        page.goto(server.url + "/paddlex_restful_demo.html")
        assert page.input_value("#srv") == server.url
        drive(page, source, "legacy-page-same-origin")
    finally:
        page.context.close()
