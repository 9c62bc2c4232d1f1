"""Requests too large to read, answered in the one error shape: 413 (body), 414 (URL), 431 (headers).

Tornado on its own answers a body over `max_body_size` with a bare `400` and no body, and resets a
request line over `max_header_size`. `LimitedApplication` wraps each request's delegate instead:
it reads headers up to `limits.READ_HEADER_BYTES`, counts body bytes itself (Content-Length or
chunked), and hands a refused request to `RefusedHandler`, whose `prepare` raises the
`LimitExceeded` that `APIHandler.write_error` turns into the JSON answer. A refused body up to
`limits.DRAIN_BYTES` is read and discarded first (the connection stays usable); a larger one, or one
sent with `Expect: 100-continue`, is answered at once and the connection closed after the answer.
"""

from __future__ import annotations

import asyncio
from typing import Any, Awaitable

import tornado.web
from tornado import httputil

from pdxsrv import limits
from pdxsrv.api.base import APIHandler, Context
from pdxsrv.api.spec import Op

UNLIMITED = 2**62  # Tornado's own limit is lifted: LimitedRequest counts the body


class RefusedHandler(APIHandler):
    """Answers a request refused before its body was read (any method)."""

    SUPPORTED_METHODS = ("GET", "HEAD", "POST", "DELETE", "PATCH", "PUT", "OPTIONS")

    def initialize(self, ctx: Context, ops: dict[str, Op] | None = None, error: Exception | None = None,
                   done: asyncio.Future[None] | None = None) -> None:
        super().initialize(ctx, {})
        self.error, self.done = error, done

    def prepare(self) -> None:
        assert self.error is not None
        raise self.error

    def on_finish(self) -> None:
        if self.done is not None and not self.done.done():
            self.done.set_result(None)


def _header_bytes(headers: httputil.HTTPHeaders) -> int:
    return sum(len(name) + len(value) + 4 for name, value in headers.get_all())


def refusal(start_line: httputil.RequestStartLine, headers: httputil.HTTPHeaders) -> limits.LimitExceeded | None:
    """The limit a request breaks by its request line and headers alone, if any."""
    if len(start_line.path) > limits.MAX_URL_BYTES:
        return limits.LimitExceeded(
            f"the URL is {len(start_line.path):,} bytes long; the limit is {limits.MAX_URL_BYTES:,}: send long "
            "arguments in a JSON body instead of the query string", http_status=414, code="too_large")
    if _header_bytes(headers) > limits.MAX_HEADER_BYTES:
        return limits.LimitExceeded(
            f"the request headers are {_header_bytes(headers):,} bytes long; the limit is "
            f"{limits.MAX_HEADER_BYTES:,}: send fewer or shorter headers", http_status=431, code="too_large")
    length = headers.get("Content-Length", "")
    if length.strip().isdigit() and int(length) > limits.MAX_BODY_BYTES:
        return body_too_large(int(length))
    return None


def body_too_large(size: int | None) -> limits.LimitExceeded:
    """The 413 refusal of a body of `size` bytes (None: more than the limit, still arriving)."""
    how = f"{size:,} bytes" if size is not None else "larger than that"
    return limits.LimitExceeded(
        f"the request body is {how}; the limit is {limits.MAX_BODY_BYTES:,} bytes ({limits.MAX_BODY_BYTES // 2**20} "
        "MiB): import datasets by path, and send large images as files (img_list) rather than base64",
        http_status=413, code="too_large")


class LimitedRequest(httputil.HTTPMessageDelegate):
    """One request: passed on to the application's delegate unless it breaks a transport limit."""

    def __init__(self, app: "LimitedApplication", connection: httputil.HTTPConnection,
                 inner: httputil.HTTPMessageDelegate) -> None:
        self.app, self.connection, self.inner = app, connection, inner
        self.received = 0
        self.start_line: httputil.RequestStartLine | None = None
        self.headers: httputil.HTTPHeaders | None = None
        self.refused: httputil.HTTPMessageDelegate | None = None
        self.answered = False

    def headers_received(self, start_line: httputil.RequestStartLine | httputil.ResponseStartLine,
                         headers: httputil.HTTPHeaders) -> Awaitable[None] | None:
        assert isinstance(start_line, httputil.RequestStartLine)
        self.start_line, self.headers = start_line, headers
        if hasattr(self.connection, "set_max_body_size"):
            self.connection.set_max_body_size(UNLIMITED)
        error = refusal(start_line, headers)
        if error is None:
            return self.inner.headers_received(start_line, headers)
        length = headers.get("Content-Length", "0").strip()
        at_once = headers.get("Expect", "").lower() == "100-continue" or (
            length.isdigit() and int(length) > limits.DRAIN_BYTES) or "chunked" in headers.get("Transfer-Encoding", "")
        self._refuse(error)
        return self._answer() if at_once else None

    def data_received(self, chunk: bytes) -> Awaitable[None] | None:
        self.received += len(chunk)
        if self.refused is None and self.received > limits.MAX_BODY_BYTES:
            self._refuse(body_too_large(None))
        if self.refused is not None:
            if self.received > limits.DRAIN_BYTES and not self.answered:
                self._answer()
            return None
        return self.inner.data_received(chunk)

    def finish(self) -> None:
        if self.refused is None:
            self.inner.finish()
        elif not self.answered:
            self._answer()

    def on_connection_close(self) -> None:
        if self.refused is None:
            self.inner.on_connection_close()

    def _refuse(self, error: limits.LimitExceeded) -> None:
        assert self.start_line is not None and self.headers is not None
        line = self.start_line
        if len(line.path) > 200:  # the access log gets a readable line
            line = httputil.RequestStartLine(line.method, line.path[:200] + "...", line.version)
        request = httputil.HTTPServerRequest(connection=self.connection, start_line=line, headers=self.headers)
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.done = done
        self.refused = self.app.get_handler_delegate(
            request, RefusedHandler, {"ctx": self.app.ctx, "error": error, "done": done})

    def _answer(self) -> asyncio.Future[None]:
        """Run the refusing handler now; the future resolves once its answer is sent."""
        assert self.refused is not None and self.start_line is not None and self.headers is not None
        self.answered = True
        self.refused.headers_received(self.start_line, self.headers)
        self.refused.finish()
        return self.done


class LimitedApplication(tornado.web.Application):
    """The application, with the transport limits of `pdxsrv.limits` applied to every request."""

    def __init__(self, ctx: Context, handlers: Any, **settings: Any) -> None:
        super().__init__(handlers, **settings)
        self.ctx = ctx

    def start_request(self, server_conn: object, request_conn: httputil.HTTPConnection) -> httputil.HTTPMessageDelegate:
        return LimitedRequest(self, request_conn, super().start_request(server_conn, request_conn))


HTTP_SERVER_OPTIONS: dict[str, Any] = {"max_header_size": limits.READ_HEADER_BYTES}
