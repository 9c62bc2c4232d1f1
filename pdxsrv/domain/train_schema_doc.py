"""The JSON Schema of a project type's training parameters (`train`), from the key table.

One object schema per project type (`components.schemas["TrainParams.<type>"]` of /openapi.json):
each property has its type (with "null" where null is accepted), range (`minimum`, `maximum`,
`exclusiveMinimum`, `exclusiveMaximum`; for lists of their items, plus `minItems`/`maxItems`),
`enum` for choices, `default` (the fallback when the key is absent and nothing recommended it) and
a one-line `description`. Keys that are accepted but have no effect are `deprecated: true` with
the reason. `allOf` holds one if/then rule per model giving the backbones it accepts.
"""

from __future__ import annotations

from typing import Any

from pdxsrv.domain.params import MODELS
from pdxsrv.domain.train_keys import (BACKBONE, BOOL, BOOL_LIST, CHOICE, DEVICES, FLOAT, FLOAT_LIST, INT, INT_LIST,
                                      MODEL, WEIGHTS, Key, backbones)

SCALAR_TYPES = {INT: "integer", FLOAT: "number", BOOL: "boolean", CHOICE: "string", MODEL: "string",
                BACKBONE: "string", WEIGHTS: "string", DEVICES: "string"}
ITEM_TYPES = {INT_LIST: "integer", FLOAT_LIST: "number", BOOL_LIST: "boolean"}
DEFAULT_BACKBONE = [None, "", "NA"]
NOTE = ("Training parameters of a {type} task. POST /project/task completes a partial object with the recommended "
        "values (GET /project/task/params {{pid}}); GET /project/task/params {{tid}} answers the values the task "
        "trains with. Numbers and switches may also be sent as strings (\"0.5\", \"true\"), lists as JSON text or "
        "comma-separated, names in any case. Deprecated keys are accepted and have no effect.")


def _bounds(key: Key) -> dict[str, Any]:
    """The JSON Schema range keywords of `key`."""
    out: dict[str, Any] = {}
    if key.low is not None:
        out["exclusiveMinimum" if key.open_low else "minimum"] = key.low
    if key.high is not None:
        out["exclusiveMaximum" if key.open_high else "maximum"] = key.high
    return out


def _property(key: Key) -> dict[str, Any]:
    """The schema of one key."""
    if key.ignored:
        return {"description": f"Ignored: {key.ignored}.", "deprecated": True}
    described = key.meaning + (f" (used by {', '.join(key.models)}; no effect with other models)" if key.models else "")
    prop: dict[str, Any] = {"description": described}
    if key.kind in ITEM_TYPES:
        prop.update(type="array", items={"type": ITEM_TYPES[key.kind], **_bounds(key)})
        if key.size is not None:
            prop.update(minItems=key.size[0], maxItems=key.size[1])
    else:
        nullable = key.nullable or key.kind in (WEIGHTS, DEVICES, BACKBONE)
        prop["type"] = [SCALAR_TYPES[key.kind], "null"] if nullable else SCALAR_TYPES[key.kind]
        prop.update(_bounds(key))
    if key.choices:
        prop["enum"] = list(key.choices)
    prop["default"] = key.default
    return prop


def _backbone_rules(project_type: str, table: dict[str, Key]) -> list[dict[str, Any]]:
    """One if/then per model: the backbones it accepts."""
    key = table.get("backbone")
    if key is None or key.ignored:
        return []
    return [{"if": {"properties": {"model": {"const": model}}, "required": ["model"]},
             "then": {"properties": {"backbone": {"enum": DEFAULT_BACKBONE + list(backbones(project_type, model))}}}}
            for model in MODELS[project_type]]


def document(project_type: str, table: dict[str, Key]) -> dict[str, Any]:
    """The object schema of `train` for `project_type`."""
    schema: dict[str, Any] = {
        "type": "object", "title": f"TrainParams.{project_type}", "description": NOTE.format(type=project_type),
        "properties": {name: _property(key) for name, key in table.items()}, "additionalProperties": False,
    }
    rules = _backbone_rules(project_type, table)
    if rules:
        schema["allOf"] = rules
    return schema
