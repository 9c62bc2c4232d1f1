"""The console's static files: served at / and /web/, confined to the package, under a strict CSP, no token needed."""

from __future__ import annotations

import re
import urllib.request
from pathlib import Path
from typing import Any

from pdxsrv.api.web import WEB_ROOT

OWN_FILES = [p for p in Path(WEB_ROOT).rglob("*") if p.is_file() and "vendor" not in p.parts]


def fetch(url: str, headers: dict[str, str] | None = None) -> tuple[int, dict[str, str], bytes]:
    req = urllib.request.Request(url, headers=headers or {})
    try:
        with urllib.request.urlopen(req, timeout=10) as resp:
            return resp.status, dict(resp.headers), resp.read()
    except urllib.error.HTTPError as err:
        return err.code, dict(err.headers), err.read()


def test_the_console_is_served_with_a_strict_policy_and_no_token(serve: Any) -> None:
    server = serve(None, "--token", "t0k")
    status, headers, body = fetch(server.url + "/")
    assert status == 200 and headers["Content-Type"].startswith("text/html")
    assert b'<script type="module" src="/web/main.js">' in body
    csp = headers["Content-Security-Policy"]
    for rule in ("default-src 'none'", "script-src 'self'", "style-src 'self'", "connect-src 'self'", "base-uri 'none'",
                 "frame-ancestors 'none'"):
        assert rule in csp
    assert "unsafe-inline" not in csp and "unsafe-eval" not in csp
    assert headers["X-Content-Type-Options"] == "nosniff"
    assert headers["Cache-Control"] == "no-cache"
    for path, kind in (("/web/main.js", "text/javascript"), ("/web/views/training.js", "text/javascript"),
                       ("/web/app.css", "text/css"), ("/web/vendor/uplot/uPlot.esm.js", "text/javascript"),
                       ("/web/vendor/uplot/uPlot.min.css", "text/css"), ("/web/icon.svg", "image/svg+xml")):
        status, headers, _ = fetch(server.url + path)
        assert status == 200 and headers["Content-Type"].startswith(kind), path
    assert fetch(server.url + "/dataset")[0] == 401  # the API still needs the token


def test_only_the_package_files_are_served(serve: Any) -> None:
    server = serve()
    for path in ("/web/%2e%2e/server.py", "/web/..%2fserver.py", "/web/%2e%2e%2f%2e%2e%2fsetup.cfg", "/web/nope.js",
                 "/web/views"):
        status, headers, body = fetch(server.url + path)
        assert status == 404, path
        assert b'"status": -1' in body


def test_the_pages_hold_no_inline_code_and_no_third_party_origin() -> None:
    for path in OWN_FILES:
        text = path.read_text(encoding="utf-8")
        if path.suffix == ".html":
            assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", text), path  # every script is a file
            assert "<style" not in text and " style=" not in text and "javascript:" not in text, path
            assert not re.search(r"\son[a-z]+=", text), path  # no inline event handlers
        if path.suffix == ".js":
            assert "innerHTML" not in text and "eval(" not in text and "setAttribute(\"style" not in text, path
        assert not re.search(r"https?://(?!www\.w3\.org/)", text), path  # nothing from another origin
    assert (Path(WEB_ROOT) / "vendor" / "uplot" / "LICENSE").is_file()
    assert "sha256" in (Path(WEB_ROOT) / "vendor" / "uplot" / "VENDOR.md").read_text()
