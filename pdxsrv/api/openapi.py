"""GET /openapi.json: an OpenAPI 3.1 document generated from the route table.

Each operation's 200 answer lists its keys (the route table's `returns`); integer-coded fields
carry their enum, names and meanings from `status_codes` (its docstring has the convention).
"""

from __future__ import annotations

from typing import Any

import pdxsrv
from pdxsrv.api.base import APIHandler
from pdxsrv.api.spec import Arg, Op
from pdxsrv.api.status_codes import FIELDS, schema as coded

ERROR = {
    "type": "object",
    "required": ["status", "message", "code"],
    "properties": {"status": {"const": -1}, "message": {"type": "string"}, "code": {"type": "string"}},
}
STR, INT, NUM, BOOL, OBJ = ({"type": "string"}, {"type": "integer"}, {"type": "number"}, {"type": "boolean"},
                            {"type": "object"})


def _null(schema: dict[str, Any]) -> dict[str, Any]:
    return {"anyOf": [schema, {"type": "null"}]}


def _rows(**properties: Any) -> dict[str, Any]:
    return {"type": "array", "items": {"type": "object", "properties": properties}}


# Answer keys by name; coded ones (`status_codes.FIELDS`) are added below.
KEYS: dict[str, dict[str, Any]] = {
    "dirname": STR, "id": STR, "did": STR, "pid": STR, "tid": STR, "pmid": STR, "emid": STR, "url": STR,
    "type": STR, "img_data": {"type": "string", "description": "base64 of the image (with did: its labels drawn)"},
    "message": {"description": "what is happening or went wrong; while a dataset copies, {percent, done, total}"},
    "attr": OBJ, "details": _null(OBJ), "resumable": BOOL, "max_saved_epochs": INT,
    "train": {"description": "training parameters (components.schemas.TrainParams.<type>)", **OBJ},
    "recipe": {"type": "string", "enum": ["fine_tune", "from_scratch"]},
    "estimate": {"type": "object", "description": "the expected training time on this machine", "properties": {
        "seconds": _null(INT), "method": {"type": "string", "enum": ["table", "none"]},
        "measured_on": {"type": "string", "enum": ["this_machine", "reference"],
                        "description": "whose step costs: this machine's (`pdxsrv step-costs measure` and its "
                                       "finished CPU training runs) or the reference machine's"},
        "basis": {"type": "string", "description": "what the estimate counted, and from which measurements"}}},
    "train_log": OBJ, "eval_metric": _null(OBJ), "sensitivities_loss_img": OBJ, "sensitivities": OBJ,
    "chart_path": _null(STR), "prune_log": OBJ, "result": _null(OBJ), "predict_num": INT, "total_num": _null(INT),
    "results": _null({"type": "array"}), "path": _null(STR), "save_dir": _null(STR), "quant_log": OBJ,
    "quant_result": OBJ, "info": OBJ, "gpu_mem_infos": {"type": "array", "items": OBJ},
    "loading_status": {"type": "string", "description": "a demo of that name was loaded already: 'dataset already "
                                                        "exists' or 'project already exists'; nothing was loaded"},
    "dataset_attr": OBJ, "task_params": {"type": "string", "description": "the task's parameters as JSON text"},
    "eval_result": {"type": "string", "description": "the evaluation result as JSON text"},
    "pretrained_models": {"type": "array", "items": OBJ}, "datasets": {"type": "array", "items": OBJ},
    "projects": {"type": "array", "items": OBJ}, "tasks": {"type": "array", "items": OBJ},
    "exported_models": {"type": "array", "items": OBJ},
    **{name: coded(name) for name in FIELDS if name.isidentifier() and name != "prj_type"},
}
# Where a coded field sits inside an answer (rows, attributes), by (path, method) and key.
NESTED: dict[tuple[str, str], dict[str, dict[str, Any]]] = {
    ("/dataset", "GET"): {"datasets": _rows(id=STR, attr={"type": "object", "properties": {
        "dataset_status": coded("dataset_status"), "message": KEYS["message"]}})},
    ("/workspace", "GET"): {"attr": {"type": "object", "description": "the attributes asked for; a dataset's include "
                                     "status", "properties": {"status": coded("dataset_status")}}},
    ("/project", "GET"): {"attr": {"type": "object", "properties": {"tasks": {
        "type": "object", "description": "the project's tasks by id",
        "additionalProperties": {"type": "object", "properties": {"status": coded("task_status")}}}}}},
    ("/project/task", "GET"): {"tasks": _rows(id=STR, status=coded("task_status"), type=STR)},
    ("/demo", "GET"): {"attr": {"type": "object", "properties": {
        "status": coded("status (demo)"), "progress": NUM, "message": STR}}},
    ("/model", "GET"): {"exported_models": _rows(id=STR, exported_type=coded("exported_type"))},
}


def _argument(a: Arg) -> dict[str, Any]:
    if a.schema:
        return a.schema
    if a.name == "prj_type":
        return {"anyOf": [coded("prj_type"), {"type": "string", "enum": [m.name for m in FIELDS["prj_type"].values()]}]}
    if a.name in FIELDS:
        return coded(a.name)
    return {**a.kind.schema, **({"enum": list(a.choices)} if a.choices else {})}


def _answers(path: str, method: str, op: Op) -> dict[str, Any]:
    """The 200 answer's schema: success with the operation's keys, or the error shape."""
    nested = NESTED.get((path, method), {})
    keys = {k: nested.get(k) or KEYS.get(k, {}) for k in op.returns}
    ok = {"type": "object", "required": ["status"], "properties": {"status": {"const": 1}, **keys}}
    # A failed job's error answer carries its status too (e.g. export_status 13).
    error = {**ERROR, "properties": {**ERROR["properties"], **{k: v for k, v in keys.items() if k in FIELDS}}}
    return {"oneOf": [ok, error]}


def _operation(path: str, method: str, op: Op) -> dict[str, Any]:
    params = [
        {"name": a.name, "in": "query", "required": a.required, "description": a.doc or a.kind.name,
         "schema": _argument(a)}
        for a in op.args
    ]
    body = {
        "type": "object",
        "properties": {p["name"]: p["schema"] for p in params},
        "required": [p["name"] for p in params if p["required"]],
    }
    if len(op.returns) == 1 and "/" in op.returns[0]:  # not JSON: the media type it answers
        content = {op.returns[0]: {"schema": {"type": "string"}}}
    else:
        content = {"application/json": {"schema": _answers(path, method, op)}}
    return {
        "operationId": f"{method.lower()}_{path.strip('/').replace('/', '_').replace('.', '_') or 'root'}",
        "summary": op.summary + (" (runs as a job)" if op.job else ""),
        "description": "Arguments may be sent as a JSON body (on every method) or in the query string.",
        "parameters": params,
        **({"requestBody": {"required": False, "content": {"application/json": {"schema": body}}}} if params else {}),
        "responses": {
            "200": {"description": "status 1 on success, -1 with a message on an application error",
                    "content": content},
            "404": {"description": "unknown route", "content": {"application/json": {"schema": ERROR}}},
            "405": {"description": "wrong method", "content": {"application/json": {"schema": ERROR}}},
        },
    }


def document(routes: list[tuple[str, type, dict[str, Op]]], schemas: dict[str, Any] | None = None) -> dict[str, Any]:
    """The OpenAPI document of `routes`, with the named `schemas` their arguments refer to."""
    return {
        "openapi": "3.1.0",
        "info": {"title": "pdxsrv — PaddleX RESTful API", "version": pdxsrv.version(),
                 "description": "Integer-coded fields carry `enum` with `x-enum-varnames` (the names) and "
                                "`x-enum-descriptions` (the meanings)."},
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
