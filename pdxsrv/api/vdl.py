"""VisualDL through pdxsrv: `GET /project/task/vdl` starts a task's board, `/vdl/<tid>/...` proxies it.

The board listens on loopback only (`pdxsrv.boards`); every request to it passes this proxy, which
checks the API's token like every route. A browser opening the board cannot send
`Authorization`, so with `--token` the URL that `GET /project/task/vdl` answers carries a
`vdl_ticket` (valid TICKET_TTL seconds, for that task only). The proxy exchanges a valid ticket
for a cookie (`pdxsrv_vdl`, HttpOnly, SameSite=Strict, path `/vdl/<tid>/`, COOKIE_TTL seconds)
and redirects to the same URL without the ticket; the board's pages, scripts and API calls then
carry the cookie. Without `--token` nothing is checked, as on every route.
"""

from __future__ import annotations

import hmac
import json
import os
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit

from tornado.httpclient import AsyncHTTPClient, HTTPRequest
from tornado.web import RequestHandler

from pdxsrv.api.base import Context
from pdxsrv.api.errors import NotAvailable, NotStarted
from pdxsrv.api.task_jobs import TaskJobHandler
from pdxsrv.boards import public_path

TICKET = "vdl_ticket"
COOKIE = "pdxsrv_vdl"
TICKET_TTL = 300.0  # seconds a board URL may wait before it is opened
COOKIE_TTL = 8 * 3600.0  # seconds a browser stays let in once it opened the URL
HOP_BY_HOP = {"connection", "keep-alive", "proxy-authenticate", "proxy-authorization", "te", "trailer",
              "transfer-encoding", "upgrade"}
NOT_FORWARDED = HOP_BY_HOP | {"host", "authorization", "cookie", "content-length"}


class VdlHandler(TaskJobHandler):
    """GET the address of the task's VisualDL board, behind this server: `host:port/vdl/<tid>/[?vdl_ticket=…]`."""

    async def get(self) -> None:
        _, task = await self.task()
        logdir = os.path.join(self.task_path(task), "output", "vdl_log")
        if not os.path.isdir(logdir):
            raise NotStarted(f"task {task.id} has no training logs yet (output/vdl_log); train it first")
        if self.ctx.boards is None:
            raise NotAvailable("this server runs without VisualDL boards")
        await self.ctx.boards.port_for(task.id, logdir)
        url = f"{self.request.host}{public_path(task.id)}/"  # no scheme, as the original answered
        if self.ctx.token is not None:
            url += "?" + urlencode({TICKET: self.ctx.boards.ticket(task.id, TICKET_TTL)})
        self.ok(url=url)


class VdlProxyHandler(RequestHandler):
    """`/vdl/<tid>/...`: the task's board, streamed through, under the API's token."""

    SUPPORTED_METHODS = ("GET", "HEAD", "POST")

    def initialize(self, ctx: Context) -> None:
        self.ctx = ctx

    async def get(self, tid: str, rest: str | None) -> None:
        await self._proxy(tid)

    async def head(self, tid: str, rest: str | None) -> None:
        await self._proxy(tid)

    async def post(self, tid: str, rest: str | None) -> None:
        await self._proxy(tid)

    def _admitted(self, tid: str) -> bool:
        token = self.ctx.token
        if token is None:
            return True
        given = self.request.headers.get("Authorization", "")
        if hmac.compare_digest(given.encode(), f"Bearer {token}".encode()):
            return True
        return self.ctx.boards is not None and self.ctx.boards.valid(tid, self.get_cookie(COOKIE))

    async def _proxy(self, tid: str) -> None:
        boards = self.ctx.boards
        query = [(k, v) for k, v in parse_qsl(urlsplit(self.request.uri or "").query, keep_blank_values=True)
                 if k != TICKET]
        ticket = self.get_query_argument(TICKET, None)
        if ticket is not None and boards is not None and boards.valid(tid, ticket):
            self.set_cookie(COOKIE, boards.ticket(tid, COOKIE_TTL), path=f"{public_path(tid)}/", httponly=True,
                            samesite="Strict", expires_days=COOKIE_TTL / 86400)
            self.redirect(self.request.path + ("?" + urlencode(query) if query else ""))
            return
        if not self._admitted(tid):
            self._error(401, "unauthorized", "this server needs 'Authorization: Bearer <token>'; open the board with "
                                             "the URL GET /project/task/vdl answers")
            return
        port = boards.port(tid) if boards is not None else None
        if port is None:
            self._error(404, "not_found", f"no VisualDL board runs for task {tid}; GET /project/task/vdl starts one")
            return
        target = f"http://127.0.0.1:{port}{self.request.path}" + ("?" + urlencode(query) if query else "")
        headers = {k: v for k, v in self.request.headers.get_all() if k.lower() not in NOT_FORWARDED}
        request = HTTPRequest(
            target, method=self.request.method or "GET", headers=headers, follow_redirects=False,
            body=self.request.body if self.request.method == "POST" else None, allow_nonstandard_methods=True,
            decompress_response=False, request_timeout=300, header_callback=self._on_header,
            streaming_callback=self._on_chunk,
        )
        response = await AsyncHTTPClient().fetch(request, raise_error=False)
        if response.code == 599:  # no answer at all (the board died)
            self._error(502, "bad_gateway", f"the VisualDL board of task {tid} does not answer: {response.error}")
            return
        self.finish()

    def _on_header(self, line: str) -> None:
        line = line.strip()
        if line.startswith("HTTP/"):
            parts = line.split(" ", 2)
            self.clear()  # a new response (after a 100 Continue, say): its own status and headers
            self.set_status(int(parts[1]), parts[2] if len(parts) > 2 else None)
            self.clear_header("Content-Type")
        elif ":" in line:
            name, value = (part.strip() for part in line.split(":", 1))
            if name.lower() in HOP_BY_HOP:
                return
            if name.lower() == "location":
                value = _local(value)
            if name.lower() == "set-cookie":
                self.add_header(name, value)
            else:
                self.set_header(name, value)

    def _on_chunk(self, chunk: bytes) -> None:
        if self.request.connection is None or self._finished:
            return
        self.write(chunk)
        self.flush().add_done_callback(lambda sent: sent.exception())  # a client that left is not an error

    def _error(self, status: int, code: str, message: str) -> None:
        self.clear()
        self.set_status(status)
        self.set_header("Content-Type", "application/json; charset=UTF-8")
        self.finish(json.dumps({"status": -1, "message": message, "code": code}))


def _local(location: str) -> str:
    """A redirect to the board itself (`http://127.0.0.1:P/path`) made relative to pdxsrv (`/path`)."""
    parts = urlsplit(location)
    if parts.scheme and parts.hostname == "127.0.0.1":
        return parts.path + ("?" + parts.query if parts.query else "")
    return location


def routes(ctx: Context) -> list[tuple[str, Any, dict[str, Any]]]:
    """The proxy's route."""
    return [(r"/vdl/([A-Za-z0-9_.-]+)(/.*)?", VdlProxyHandler, {"ctx": ctx})]
