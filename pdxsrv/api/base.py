"""The base handler: argument parsing from the route table, and the one error shape.

Success: HTTP 200 ``{"status": 1, ...}``. Failure: ``{"status": -1, "message": str, "code": str}``
with HTTP 200 for application errors (the original's contract; with ``honest_status`` the HTTP
status says what happened: 400, 403, 404, 409, 501), 404 for an unknown route, 405 for a wrong
method (with ``Allow``), 401 for a missing or wrong token, 413/414/431 for a request too large to
read (`pdxsrv.limits`, `oversize.py`), 507 (honest) or 200 for `disk_full`, and 500 for a bug.
Nothing else is ever sent: no traceback, no Python repr, no NaN (`limits.json_text`).

CORS (``--cors-origin``): every answer, errors included, carries ``Access-Control-Allow-Origin``
and ``Vary: Origin`` when the request's ``Origin`` is an allowed one; ``OPTIONS`` on any route (the
preflight, answered before the token check) is 204 with ``Allow`` and, for an allowed origin,
``Access-Control-Allow-Methods``, ``-Headers`` and ``-Max-Age``.
"""

from __future__ import annotations

import hmac
import logging
from dataclasses import dataclass, field
from typing import Any

from tornado.web import HTTPError, RequestHandler

from pdxsrv import limits
from pdxsrv.api.errors import NotAvailable
from pdxsrv.api.spec import Op, parse
from pdxsrv.domain.errors import Conflict, DomainError, NotFound
from pdxsrv.paths import PathRefused
from pdxsrv.store import DiskFull, StorageFailed, Store
from pdxsrv.weights import WeightsConfig
from supervisor.client import SupervisorUnavailable

log = logging.getLogger("pdxsrv.api")


class BadRequest(DomainError):
    """The request itself cannot be read (a body that is not a JSON object)."""

    code = "bad_request"


PREFLIGHT_HEADERS = "Content-Type, Authorization, Last-Event-ID"
PREFLIGHT_MAX_AGE = 600  # seconds a browser may reuse a preflight answer
ANY_METHODS = ("GET", "POST", "PUT", "DELETE")


def allowed_origin(handler: RequestHandler, origins: tuple[str, ...]) -> str | None:
    """The request's Origin if it is one of `origins`."""
    origin = handler.request.headers.get("Origin")
    return origin if origin and origin in origins else None


def cors_headers(handler: RequestHandler, origins: tuple[str, ...]) -> None:
    """Allow the request's Origin when it is one of `origins` (headers sent on every answer, errors included)."""
    origin = allowed_origin(handler, origins)
    if origin:
        handler.set_header("Access-Control-Allow-Origin", origin)
        handler.set_header("Vary", "Origin")


HONEST_STATUS = {NotFound: 404, Conflict: 409, PathRefused: 403, NotAvailable: 501, DiskFull: 507, StorageFailed: 503}


@dataclass(frozen=True)
class Context:
    """What handlers depend on: the store, the allowed roots, the options."""

    store: Store
    roots: tuple[str, ...]
    token: str | None = None
    honest_status: bool = False
    supervision: Any = None  # pdxsrv.supervision.Supervision, or None with --no-supervisor
    boards: Any = None  # pdxsrv.boards.Boards: the tasks' VisualDL servers
    demo_mirror: str | None = None  # base URL the demo archives are fetched from (None: generate them)
    weights: WeightsConfig = field(default_factory=WeightsConfig)  # the pretrained-weights cache, mirror, offline
    cors_origins: tuple[str, ...] = ()  # web origins allowed to call the API from a browser (--cors-origin)
    legacy_demo: str | None = None  # the operator's copy of the original web demo page (--legacy-demo), as text
    step_costs: str | None = None  # this machine's step-cost file (--step-costs; pdxsrv.machine_costs), or None


class APIHandler(RequestHandler):
    """Base of every handler: `self.store`, `self.args` (parsed by the route table), `ok()`."""

    ctx: Context
    ops: dict[str, Op]
    args: dict[str, Any]

    def initialize(self, ctx: Context, ops: dict[str, Op]) -> None:
        self.ctx, self.ops = ctx, ops
        cors_headers(self, ctx.cors_origins)  # set_default_headers ran before initialize, without ctx

    @property
    def store(self) -> Store:
        return self.ctx.store

    def set_default_headers(self) -> None:
        self.set_header("Content-Type", "application/json; charset=UTF-8")
        if hasattr(self, "ctx"):
            cors_headers(self, self.ctx.cors_origins)

    def allowed_methods(self) -> list[str]:
        """The methods of this route."""
        return list(self.ops)

    def options(self, *_: Any) -> None:
        """The CORS preflight (and plain OPTIONS): 204 with the route's methods; CORS headers for allowed origins."""
        self.set_status(204)
        self.clear_header("Content-Type")
        methods = ", ".join([*self.allowed_methods(), "OPTIONS"])
        self.set_header("Allow", methods)
        if allowed_origin(self, self.ctx.cors_origins):
            self.set_header("Access-Control-Allow-Methods", methods)
            self.set_header("Access-Control-Allow-Headers", PREFLIGHT_HEADERS)
            self.set_header("Access-Control-Max-Age", str(PREFLIGHT_MAX_AGE))
        self.finish()

    def prepare(self) -> None:
        if self.request.method == "OPTIONS":  # a preflight carries no Authorization: answered before the token
            return
        if self.ctx.token is not None:
            given = self.request.headers.get("Authorization", "")
            if not hmac.compare_digest(given.encode(), f"Bearer {self.ctx.token}".encode()):
                raise HTTPError(401)
        op = self.ops.get(self.request.method or "")
        if op is None:
            raise HTTPError(405)
        body: Any = {}
        if self.request.body and self.request.body.strip():
            try:
                body = limits.decode_json(self.request.body)
            except (ValueError, UnicodeDecodeError) as exc:
                raise BadRequest(f"the request body is not valid JSON ({exc}); send a JSON object") from None
            if not isinstance(body, dict):
                raise BadRequest(f"the request body must be a JSON object, got {type(body).__name__}")
        self.args = parse(op, body, self._query)

    def _query(self, name: str) -> str | None:
        try:
            value = self.get_query_argument(name, None)
        except HTTPError:  # undecodable query string
            raise BadRequest(f"the query string argument {name!r} is not valid UTF-8") from None
        limits.check(value, name)
        return value

    def ok(self, **payload: Any) -> None:
        """Answer success."""
        self.finish(limits.json_text({"status": 1, **payload}))

    def write_error(self, status_code: int, **kwargs: Any) -> None:
        self.set_header("Content-Type", "application/json; charset=UTF-8")
        if status_code == 405:
            self.set_header("Allow", ", ".join([*self.allowed_methods(), "OPTIONS"]))
        exc = kwargs.get("exc_info", (None, None, None))[1]
        if isinstance(exc, DomainError):
            honest = next((code for cls, code in HONEST_STATUS.items() if isinstance(exc, cls)), 400)
            self.set_status(getattr(exc, "http_status", None) or (honest if self.ctx.honest_status else 200))
            body = {**getattr(exc, "fields", {}), "status": -1, "message": exc.message, "code": exc.code}
        elif isinstance(exc, HTTPError) or exc is None:
            code, message = {
                401: ("unauthorized", "this server needs 'Authorization: Bearer <token>'"),
                404: ("not_found", f"no such route: {self.request.path}"),
                405: ("method_not_allowed", f"{self.request.method} is not allowed on {self.request.path}"),
            }.get(status_code, ("http_error", self._reason))
            body = {"status": -1, "message": message, "code": code}
        elif isinstance(exc, SupervisorUnavailable):  # it is being restarted (pdxsrv does so at once): not a bug
            self.set_status(503 if self.ctx.honest_status else 200)
            body = {"status": -1, "code": "supervisor_unavailable",
                    "message": f"the job supervisor did not answer ({exc}); pdxsrv restarts it at once: try again in a "
                               "few seconds (the work was not recorded as started)"}
        else:
            body = {"status": -1, "message": "internal error; the server log has the details", "code": "internal"}
        self.finish(limits.json_text(body))

    def log_exception(self, typ: Any, value: Any, tb: Any) -> None:
        if isinstance(value, DomainError):
            log.info("%s %s refused: %s", self.request.method, self.request.path, value.message)
        elif isinstance(value, SupervisorUnavailable):
            log.warning("%s %s: %s", self.request.method, self.request.path, value)
        else:
            super().log_exception(typ, value, tb)


class NotFoundHandler(APIHandler):
    """Every unknown route."""

    def initialize(self, ctx: Context, ops: dict[str, Op] | None = None) -> None:
        super().initialize(ctx, {})

    def allowed_methods(self) -> list[str]:
        """Any method: an unknown route's preflight is answered, its request gets the 404."""
        return list(ANY_METHODS)

    def prepare(self) -> None:
        if self.request.method == "OPTIONS":
            return
        raise HTTPError(404)
