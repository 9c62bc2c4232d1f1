"""GET /openapi.json: an OpenAPI 3.1 document generated from the route table."""

from __future__ import annotations

from typing import Any

from pdxsrv.api.base import APIHandler
from pdxsrv.api.spec import Op

ERROR = {
    "type": "object",
    "required": ["status", "message", "code"],
    "properties": {"status": {"const": -1}, "message": {"type": "string"}, "code": {"type": "string"}},
}


def _operation(path: str, method: str, op: Op) -> dict[str, Any]:
    params = [
        {
            "name": a.name,
            "in": "query",
            "required": a.required,
            "description": a.doc or a.kind.name,
            "schema": a.schema or {**a.kind.schema, **({"enum": list(a.choices)} if a.choices else {})},
        }
        for a in op.args
    ]
    body = {
        "type": "object",
        "properties": {p["name"]: p["schema"] for p in params},
        "required": [p["name"] for p in params if p["required"]],
    }
    ok = {"type": "object", "required": ["status"],
          "properties": {"status": {"const": 1}, **{k: {} for k in op.returns}}}
    return {
        "operationId": f"{method.lower()}_{path.strip('/').replace('/', '_').replace('.', '_') or 'root'}",
        "summary": op.summary + (" (runs as a job)" if op.job else ""),
        "description": "Arguments may be sent as a JSON body (on every method) or in the query string.",
        "parameters": params,
        **({"requestBody": {"required": False, "content": {"application/json": {"schema": body}}}} if params else {}),
        "responses": {
            "200": {"description": "status 1 on success, -1 with a message on an application error",
                    "content": {"application/json": {"schema": {"oneOf": [ok, ERROR]}}}},
            "404": {"description": "unknown route", "content": {"application/json": {"schema": ERROR}}},
            "405": {"description": "wrong method", "content": {"application/json": {"schema": ERROR}}},
        },
    }


def document(routes: list[tuple[str, type, dict[str, Op]]], schemas: dict[str, Any] | None = None) -> dict[str, Any]:
    """The OpenAPI document of `routes`, with the named `schemas` their arguments refer to."""
    return {
        "openapi": "3.1.0",
        "info": {"title": "pdxsrv — PaddleX RESTful API", "version": "0.1.0"},
        "paths": {
            path: {method.lower(): _operation(path, method, op) for method, op in ops.items()}
            for path, _, ops in routes
        },
        "components": {"schemas": schemas or {}},
    }


class OpenAPIHandler(APIHandler):
    """GET the document."""

    async def get(self) -> None:
        from pdxsrv.api.routes import ROUTES, SCHEMAS

        self.finish(document(ROUTES, SCHEMAS))
