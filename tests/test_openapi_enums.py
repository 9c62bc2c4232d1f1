"""/openapi.json gives every integer-coded answer field its enum, with the domain enums' names, and the README
holds the same table."""

from __future__ import annotations

import os
import re
from enum import IntEnum
from pathlib import Path
from typing import Any, Iterator

import pytest
import requests

from pdxsrv.api.status_codes import FIELDS, markdown_table
from pdxsrv.domain import enums
from tests.conftest import Server

ROOT = Path(__file__).resolve().parent.parent
NOT_CODED = {"loading_status", "download_status"}  # strings, not integers
CODED_NESTED = {"status", "exported_type"}  # coded inside rows and attributes (openapi.NESTED)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    srv = Server(str(tmp_path_factory.mktemp("enums") / "ws"))
    yield srv
    srv.stop()


@pytest.fixture(scope="module")
def doc(server: Server) -> dict[str, Any]:
    return requests.get(server.url + "/openapi.json", timeout=30).json()


def enum_schemas(schema: Any, name: str = "") -> Iterator[tuple[str, dict[str, Any]]]:
    """(property name, schema) of every property in `schema`, at any depth."""
    if isinstance(schema, dict):
        for key, sub in (schema.get("properties") or {}).items():
            yield key, sub
            yield from enum_schemas(sub, key)
        for key in ("items", "additionalProperties"):
            yield from enum_schemas(schema.get(key), name)
        for key in ("oneOf", "anyOf", "allOf"):
            for sub in schema.get(key) or ():
                yield from enum_schemas(sub, name)


def integer_part(schema: dict[str, Any]) -> dict[str, Any] | None:
    """The integer enum of a coded schema (it may be `anyOf` it and null)."""
    if "enum" in schema and "x-enum-varnames" in schema:
        return schema
    for sub in schema.get("anyOf") or ():
        if sub.get("type") == "integer":
            return sub
    return None


def check_coded(where: str, schema: dict[str, Any]) -> type[IntEnum]:
    """The schema has values, names and meanings, and the names are its domain enum's; return that enum."""
    part = integer_part(schema)
    assert part is not None, f"{where}: no enum with names: {schema}"
    assert part["type"] == "integer" and len(part["enum"]) == len(part["x-enum-varnames"]) == len(
        part["x-enum-descriptions"]), where
    enum = getattr(enums, part["title"])
    for value, name, meaning in zip(part["enum"], part["x-enum-varnames"], part["x-enum-descriptions"]):
        assert enum(value).name == name, f"{where}: {value} is {enum(value).name} in {enum.__name__}, not {name}"
        assert meaning and f"{value} {name}: {meaning}" in schema["description"], where
    return enum


def test_every_status_field_of_every_answer_has_its_enum_with_names(doc: dict[str, Any]) -> None:
    seen = set()
    for path, methods in doc["paths"].items():
        for method, op in methods.items():
            for media in op["responses"]["200"]["content"].values():
                for key, schema in enum_schemas(media["schema"]):
                    if key == "status" and "const" in schema:  # the answer's own 1 or -1
                        continue
                    if key.endswith("_status") and key not in NOT_CODED:
                        assert key in FIELDS, f"{method} {path}: {key} is not in status_codes.FIELDS"
                    if key in FIELDS or key in CODED_NESTED:
                        check_coded(f"{method.upper()} {path} {key}", schema)
                        seen.add(key)
    assert {"dataset_status", "task_status", "prune_status", "evaluate_status", "predict_status", "export_status",
            "status", "exported_type"} <= seen, seen
    demo = doc["paths"]["/demo"]["get"]["responses"]["200"]["content"]["application/json"]["schema"]["oneOf"][0]
    assert check_coded("demo", demo["properties"]["attr"]["properties"]["status"]) is enums.DownloadStatus
    project = doc["paths"]["/project"]["get"]["responses"]["200"]["content"]["application/json"]["schema"]["oneOf"][0]
    task_row = project["properties"]["attr"]["properties"]["tasks"]["additionalProperties"]["properties"]["status"]
    assert check_coded("project tasks", task_row) is enums.TaskStatus
    prj_type = next(p for p in doc["paths"]["/demo"]["post"]["parameters"] if p["name"] == "prj_type")
    assert check_coded("prj_type", prj_type["schema"]["anyOf"][0]) is enums.ProjectType


def test_the_handlers_answer_no_integer_code_the_registry_lacks() -> None:
    """Every `<key>=int(...)` or `"<key>": int(...)` a handler answers, named like a status or a type, is a coded
    field (or a nested `status`)."""
    source = "".join(p.read_text() for p in (ROOT / "pdxsrv" / "api").glob("*.py"))
    keys = set(re.findall(r"\b(\w*(?:status|type))=int\(", source))
    keys |= set(re.findall(r"\"(\w*(?:status|type))\": int\(", source))
    assert keys and keys <= set(FIELDS) | CODED_NESTED, keys - set(FIELDS) - CODED_NESTED


def find(schema: Any, path: list[Any]) -> dict[str, Any] | None:
    """The schema of the value at `path` (keys and list indices) of an answer described by `schema`."""
    if not path:
        return schema
    for sub in (schema.get("oneOf") or []) + (schema.get("anyOf") or []):
        found = find(sub, path)
        if found is not None:
            return found
    step, rest = path[0], path[1:]
    if isinstance(step, int) and "items" in schema:
        return find(schema["items"], rest)
    if isinstance(step, str) and step in (schema.get("properties") or {}):
        return find(schema["properties"][step], rest)
    if isinstance(step, str) and isinstance(schema.get("additionalProperties"), dict):
        return find(schema["additionalProperties"], rest)
    return None


def coded_values(answer: Any, path: list[Any] | None = None) -> Iterator[tuple[list[Any], int]]:
    """(path, value) of every integer under a key named like a status or `exported_type`."""
    path = path or []
    items = answer.items() if isinstance(answer, dict) else enumerate(answer) if isinstance(answer, list) else ()
    for key, value in items:
        coded = isinstance(key, str) and (key in FIELDS or bool(path) and key.endswith("status"))
        if coded and isinstance(value, int) and not isinstance(value, bool):
            yield [*path, key], value
        yield from coded_values(value, [*path, key])


def test_what_a_live_server_answers_is_described(server: Server, doc: dict[str, Any]) -> None:
    """Every coded integer in real answers is found, at its place, in the operation's schema with that value."""
    url = server.url
    kind = "classification"
    did = requests.post(url + "/dataset", json={"name": "d", "desc": "", "dataset_type": kind}).json()["did"]
    pid = requests.post(url + "/project", json={"name": "p", "desc": "", "project_type": kind}).json()["pid"]
    requests.put(url + "/workspace", json={"struct": "project", "id": pid, "attr_dict": {"did": did}})
    tid = requests.post(url + "/project/task", json={"pid": pid, "train": {"model": "ResNet18"}}).json()["tid"]
    export_dir = os.path.join(server.workspace, "exports", tid)
    requests.post(url + "/model", json={"type": "exported", "pid": pid, "tid": tid, "name": "m", "path": export_dir,
                                        "exported_type": 2})
    asks = [("GET", "/dataset", {"did": did}), ("GET", "/dataset", {}), ("GET", "/project", {"id": pid}),
            ("GET", "/workspace", {"struct": "dataset", "id": did, "attr_list": ["status", "name"]}),
            ("GET", "/project/task", {"tid": tid}), ("GET", "/project/task", {}), ("GET", "/demo", {"prj_type": 0}),
            ("GET", "/model", {"type": "exported"})]
    found = 0
    for method, path, body in asks:
        answer = requests.request(method, url + path, json=body, timeout=30).json()
        assert answer["status"] == 1, (path, answer)
        schema = doc["paths"][path][method.lower()]["responses"]["200"]["content"]["application/json"]["schema"]
        for where, value in coded_values(answer):
            described = find(schema, where)
            assert described is not None, f"{method} {path}: {where} is not described"
            enum = check_coded(f"{method} {path} {where}", described)
            assert value in integer_part(described)["enum"] and enum(value).name, (where, value)
            found += 1
    assert found >= 7, found


def test_the_readme_has_the_status_table() -> None:
    """README's table is the registry's (`python -m pdxsrv.api.status_codes` prints it)."""
    assert markdown_table() in (ROOT / "README.md").read_text()
    for coded in FIELDS.values():
        assert coded.enum.__module__ == "pdxsrv.domain.enums"  # the domain's own enums, not copies
