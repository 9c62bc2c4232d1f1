"""The web console's static files: `GET /` answers index.html, `GET /web/<path>` the files of `pdxsrv/web`.

They hold no workspace data, so they need no token (the console asks for it and sends it on every API call).
Every answer carries a strict Content-Security-Policy: scripts, styles and connections from this origin only,
no inline script or style, images also from data:/blob: URLs (the API sends images as base64).
"""

from __future__ import annotations

import mimetypes
import os
from typing import Any

from tornado.web import HTTPError, RequestHandler

WEB_ROOT = os.path.realpath(os.path.join(os.path.dirname(os.path.dirname(__file__)), "web"))
CSP = ("default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; "
       "connect-src 'self'; font-src 'self'; manifest-src 'self'; base-uri 'none'; form-action 'none'; "
       "frame-ancestors 'none'")
TYPES = {".html": "text/html; charset=UTF-8", ".js": "text/javascript; charset=UTF-8",
         ".css": "text/css; charset=UTF-8", ".svg": "image/svg+xml", ".png": "image/png",
         ".md": "text/markdown; charset=UTF-8", ".json": "application/json; charset=UTF-8",
         ".ico": "image/x-icon", "": "text/plain; charset=UTF-8"}
STATIC_ROUTES = ("/", "/web/(.*)")


class WebHandler(RequestHandler):
    """GET (and HEAD) a file of the console."""

    def initialize(self, **_: Any) -> None:
        pass

    def set_default_headers(self) -> None:
        self.set_header("Content-Security-Policy", CSP)
        self.set_header("X-Content-Type-Options", "nosniff")
        self.set_header("Referrer-Policy", "no-referrer")
        self.set_header("X-Frame-Options", "DENY")
        self.set_header("Cache-Control", "no-cache")

    def get(self, path: str = "index.html") -> None:
        self._send(path, body=True)

    def head(self, path: str = "index.html") -> None:
        self._send(path, body=False)

    def _send(self, path: str, body: bool) -> None:
        full = os.path.realpath(os.path.join(WEB_ROOT, path or "index.html"))
        if not full.startswith(WEB_ROOT + os.sep) or not os.path.isfile(full):
            raise HTTPError(404)
        ext = os.path.splitext(full)[1].lower()
        kind = TYPES.get(ext) or mimetypes.guess_type(full)[0] or "application/octet-stream"
        self.set_header("Content-Type", kind)
        with open(full, "rb") as f:
            data = f.read()
        self.set_header("Content-Length", str(len(data)))
        if body:
            self.write(data)

    def write_error(self, status_code: int, **kwargs: Any) -> None:
        self.set_header("Content-Type", "application/json; charset=UTF-8")
        code, message = {404: ("not_found", f"no such file of the console: {self.request.path}"),
                         405: ("method_not_allowed", f"{self.request.method} is not allowed on {self.request.path}")
                         }.get(status_code, ("http_error", self._reason))
        self.finish({"status": -1, "message": message, "code": code})


def web_routes() -> list[tuple[str, type]]:
    """The console's routes, to put before the API's in the application."""
    return [(r"/", WebHandler), (r"/web/(.*)", WebHandler)]
