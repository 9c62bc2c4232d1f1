"""Argument specs: the one description of every operation's arguments.

Handlers validate with it and `openapi.py` documents from it, so the two cannot drift apart.
Arguments come from the JSON body, else from the query string; a JSON `null` counts as absent.
Values are coerced to the declared kind, so query strings work too (`gpu_list=0,1`, `epoch=3`,
`train={"model": ...}`); a value that cannot be coerced is refused naming the argument and value.
A JSON text held in an object argument is read with the limits of `pdxsrv.limits` (key paths like
`train.learning_rate`).
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from typing import Any, Callable

from pdxsrv import limits
from pdxsrv.domain.errors import DomainError
from pdxsrv.domain.train_values import text_list


class ArgumentError(DomainError):
    """An argument is missing or has a value of the wrong kind."""

    code = "invalid_argument"


def _show(value: Any) -> str:
    text = json.dumps(value, ensure_ascii=False, default=str) if not isinstance(value, str) else repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def _str(value: Any) -> str:
    if not isinstance(value, str):
        raise ValueError("a string")
    return value


def _int(value: Any) -> int:
    if isinstance(value, bool):
        raise ValueError("an integer")
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str) and value.strip().lstrip("+-").isdigit():
        return int(value.strip())
    raise ValueError("an integer")


def _float(value: Any) -> float:
    if isinstance(value, bool):
        raise ValueError("a number")
    try:
        number = float(value) if isinstance(value, (int, float, str)) else None
    except ValueError:
        number = None
    if number is None or not math.isfinite(number):
        raise ValueError("a finite number")
    return number


def _bool(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower() if isinstance(value, (str, int)) else ""
    if text in ("true", "1", "yes"):
        return True
    if text in ("false", "0", "no"):
        return False
    raise ValueError("true or false")


def _list_of(item: Callable[[Any], Any], what: str) -> Callable[[Any], list[Any]]:
    def coerce(value: Any) -> list[Any]:
        try:
            if isinstance(value, str):
                value = text_list(value)
                if not isinstance(value, list):  # JSON text of something else
                    raise ValueError(what)
            elif not isinstance(value, list):
                value = [value]
            return [item(v) for v in value]
        except ValueError:
            raise ValueError(f"a list of {what}") from None

    return coerce


def _object(value: Any, where: str = "") -> dict[str, Any]:
    if isinstance(value, str):
        try:
            value = limits.decode_json(value, where)
        except ValueError:
            raise ValueError("a JSON object (or a string holding one)") from None
    if not isinstance(value, dict):
        raise ValueError("a JSON object (or a string holding one)")
    return value


def _any(value: Any) -> Any:
    return value


@dataclass(frozen=True)
class Kind:
    """How to coerce an argument, and its JSON-schema for OpenAPI."""

    name: str
    coerce: Callable[[Any], Any]
    schema: dict[str, Any]


STR = Kind("string", _str, {"type": "string"})
INT = Kind("integer", _int, {"type": "integer"})
FLOAT = Kind("number", _float, {"type": "number"})
BOOL = Kind("boolean", _bool, {"type": "boolean"})
INT_LIST = Kind("integer list", _list_of(_int, "integers"), {"type": "array", "items": {"type": "integer"}})
STR_LIST = Kind("string list", _list_of(_str, "strings"), {"type": "array", "items": {"type": "string"}})
OBJECT = Kind("object", _object, {"type": "object"})
ANY = Kind("any", _any, {})


@dataclass(frozen=True)
class Arg:
    """One argument of an operation."""

    name: str
    kind: Kind = STR
    required: bool = False
    choices: tuple[Any, ...] = ()
    doc: str = ""
    default: Any = None
    schema: dict[str, Any] | None = None  # documents the argument instead of its kind's schema (OpenAPI)


@dataclass(frozen=True)
class Op:
    """One method of one route: what it does, its arguments, the keys it answers with."""

    summary: str
    args: tuple[Arg, ...] = ()
    returns: tuple[str, ...] = ()
    job: bool = False  # its work runs in a job (a supervisor process)


def parse(op: Op, body: dict[str, Any], query: Callable[[str], str | None]) -> dict[str, Any]:
    """Coerce and check the arguments of `op` from the JSON body, else the query string."""
    args: dict[str, Any] = {}
    for arg in op.args:
        value = body.get(arg.name)
        if value is None:
            value = query(arg.name)
        if value is None:
            if arg.required:
                raise ArgumentError(f"argument {arg.name!r} is required ({arg.doc or arg.kind.name})", code="missing_argument")
            args[arg.name] = arg.default
            continue
        try:
            value = _object(value, arg.name) if arg.kind is OBJECT else arg.kind.coerce(value)
        except ValueError as exc:
            raise ArgumentError(f"argument {arg.name!r} must be {exc}, got {_show(value)}") from None
        if arg.choices and value not in arg.choices:
            choices = ", ".join(map(str, arg.choices))
            raise ArgumentError(f"argument {arg.name!r} is {_show(value)}; use one of: {choices}")
        args[arg.name] = value
    return args
