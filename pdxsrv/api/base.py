"""The base handler: argument parsing and the one error shape.

Success: HTTP 200 ``{"status": 1, ...}``. Failure: ``{"status": -1, "message": str, "code": str}``,
with HTTP 200 for application errors (the original's contract), and 404 / 405 / 400 / 500 for an
unknown route, a wrong method, an unreadable request and a bug. Nothing else is ever sent: no
traceback, no Python repr.
"""

from __future__ import annotations

import json
import logging
from typing import Any

from tornado.web import HTTPError, RequestHandler

from pdxsrv.domain.errors import DomainError
from pdxsrv.store import Store

log = logging.getLogger("pdxsrv.api")

MISSING: Any = object()


class BadRequest(DomainError):
    """The request itself cannot be read (malformed JSON, a missing or mistyped argument)."""

    code = "bad_request"


class APIHandler(RequestHandler):
    """Base of every handler: `self.store`, `self.arg()`, `self.ok()` and `write_error`."""

    store: Store

    def initialize(self, store: Store) -> None:
        self.store = store

    def set_default_headers(self) -> None:
        self.set_header("Content-Type", "application/json; charset=UTF-8")

    def prepare(self) -> None:
        self.body_args: dict[str, Any] = {}
        if self.request.body and self.request.body.strip():
            try:
                body = json.loads(self.request.body)
            except (ValueError, UnicodeDecodeError) as exc:
                raise BadRequest(f"the request body is not valid JSON ({exc}); send a JSON object") from None
            if not isinstance(body, dict):
                raise BadRequest(f"the request body must be a JSON object, got {type(body).__name__}")
            self.body_args = body

    def arg(self, name: str, default: Any = MISSING) -> Any:
        """An argument from the JSON body, else from the query string, else `default` (else BadRequest)."""
        if name in self.body_args:
            return self.body_args[name]
        value = self.get_query_argument(name, None)
        if value is not None:
            return value
        if default is MISSING:
            raise BadRequest(f"argument {name!r} is required")
        return default

    def ok(self, **payload: Any) -> None:
        """Answer success."""
        self.finish(json.dumps({"status": 1, **payload}, ensure_ascii=False))

    def write_error(self, status_code: int, **kwargs: Any) -> None:
        exc = kwargs.get("exc_info", (None, None, None))[1]
        if isinstance(exc, DomainError):
            self.set_status(200)
            body = {"status": -1, "message": exc.message, "code": exc.code}
        elif isinstance(exc, HTTPError) or exc is None:
            reason = {404: "not_found", 405: "method_not_allowed"}.get(status_code, "http_error")
            message = {
                404: f"no such route: {self.request.path}",
                405: f"{self.request.method} is not allowed on {self.request.path}",
            }.get(status_code, self._reason)
            body = {"status": -1, "message": message, "code": reason}
        else:
            body = {"status": -1, "message": "internal error; the server log has the details", "code": "internal"}
        self.finish(json.dumps(body, ensure_ascii=False))

    def log_exception(self, typ: Any, value: Any, tb: Any) -> None:
        if isinstance(value, DomainError):
            log.info("%s %s refused: %s", self.request.method, self.request.path, value.message)
        else:
            super().log_exception(typ, value, tb)


class NotFoundHandler(APIHandler):
    """Every unknown route."""

    def prepare(self) -> None:
        raise HTTPError(404)
