"""GET /paddlex_restful_demo.html: the operator's copy of the original PaddleX web demo page (--legacy-demo).

pdxsrv does not ship the page. As the original server did, every `http://0.0.0.0:8080` in it (the
page's hard-coded server URL, `var str_srv_url = ...`) is replaced by the URL the page was asked
from, `<scheme>://<Host header>`, so the page calls the server that served it. Like the console's
files it holds no workspace data and needs no token (the original page cannot send one).
"""

from __future__ import annotations

import re

from tornado.web import HTTPError

from pdxsrv.api.base import APIHandler
from pdxsrv.api.spec import ArgumentError
from pdxsrv.domain.errors import NotFound

PLACEHOLDER = "http://0.0.0.0:8080"
HOST = re.compile(r"^[A-Za-z0-9.\-]+(:\d{1,5})?$|^\[[0-9A-Fa-f:.]+\](:\d{1,5})?$")


class LegacyDemoHandler(APIHandler):
    """GET the page, pointed at this server."""

    def prepare(self) -> None:
        if self.request.method == "OPTIONS":
            return
        if self.request.method not in self.ops:
            raise HTTPError(405)
        self.args = {}

    def get(self) -> None:
        page = self.ctx.legacy_demo
        if page is None:
            raise NotFound("this server serves no legacy demo page; start it with --legacy-demo FILE, FILE being "
                           "your copy of the original PaddleX paddlex_restful_demo.html")
        host = self.request.host
        if not HOST.match(host):
            raise ArgumentError(f"the Host header {host!r} is not a host[:port]; the page cannot be pointed at it")
        self.set_header("Content-Type", "text/html; charset=UTF-8")
        self.finish(page.replace(PLACEHOLDER, f"{self.request.protocol}://{host}"))
