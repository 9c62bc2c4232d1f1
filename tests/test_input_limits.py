"""Hostile input against a live server: every limit of `pdxsrv.limits` answered in the one error shape, nothing stored.

Issue 17 findings 2-4: deep JSON (body, `train`, query) gave HTTP 500; NaN/Infinity were stored and
printed as bare words; a 120 MB body got a bare 400, a 150 KB request line a reset, a 50 MB name
was stored.
"""

from __future__ import annotations

import http.client
import json
import sys
import urllib.parse
from typing import Any

import pytest

from pdxsrv import limits
from tests.conftest import Server, pdxsrv
from tests.supervisor_support import wait_for


def strict(text: str | bytes) -> Any:
    """Parse JSON as the spec has it: NaN and Infinity are not JSON."""
    def refuse(word: str) -> None:
        raise AssertionError(f"{word} printed: not JSON")
    return json.loads(text, parse_constant=refuse)


def call(server: Server, method: str, path: str, body: bytes | None = None,
         headers: dict[str, str] | None = None) -> tuple[int, Any]:
    """One request on its own connection; (status, strictly decoded JSON body)."""
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=60)
    try:
        conn.request(method, path, body=body, headers=headers or {})
        resp = conn.getresponse()
        return resp.status, strict(resp.read())
    finally:
        conn.close()


def refused(answer: tuple[int, Any], code: str, *words: str, status: int = 200) -> dict[str, Any]:
    http_status, body = answer
    assert http_status == status and body["status"] == -1 and body["code"] == code, answer
    for word in words:
        assert word in body["message"], (word, body["message"])
    return body


@pytest.fixture
def server(serve) -> Server:
    srv = serve()
    assert srv.request("POST", "/project", {"name": "p", "project_type": "classification"})[1]["pid"] == "P0001"
    return srv


def deep(levels: int) -> str:
    return "[" * levels + "]" * levels


def tasks(server: Server) -> list[Any]:
    return server.request("GET", "/project/task")[1]["tasks"]


def test_deep_json_in_the_body_is_refused_naming_the_key(server: Server) -> None:
    body = f'{{"name": {deep(1000)}, "dataset_type": "classification"}}'.encode()
    refused(call(server, "POST", "/dataset", body), "limit_exceeded", "`name`", "32")
    body = f'{{"name": {deep(100_000)}}}'.encode()  # deeper than Python's recursion limit
    refused(call(server, "POST", "/dataset", body), "limit_exceeded", "32")
    assert server.request("GET", "/dataset")[1]["datasets"] == []


def test_deep_json_in_train_object_and_train_text_is_refused(server: Server) -> None:
    body = f'{{"pid": "P0001", "train": {{"model": "MobileNetV2", "x": {deep(1000)}}}}}'.encode()
    refused(call(server, "POST", "/project/task", body), "limit_exceeded", "`train.x`", "32")
    text = json.dumps({"pid": "P0001", "train": '{"x": ' + deep(5000) + "}"}).encode()
    refused(call(server, "POST", "/project/task", text), "limit_exceeded", "train", "32")
    assert tasks(server) == []


def test_deep_json_in_the_query_string_is_refused(server: Server) -> None:
    query = urllib.parse.urlencode({"pid": "P0001", "train": deep(3000)})
    refused(call(server, "POST", f"/project/task?{query}"), "limit_exceeded", "train", "32")
    query = urllib.parse.urlencode({"pid": "P0001", "train": '{"a": ' + deep(40) + "}"})
    refused(call(server, "POST", f"/project/task?{query}"), "limit_exceeded", "`train.a", "32")
    assert tasks(server) == []


@pytest.mark.parametrize("body, path", [
    ('{"pid": "P0001", "train": "{\\"learning_rate\\": NaN}"}', "train.learning_rate"),
    ('{"pid": "P0001", "train": "{\\"model\\": \\"MobileNetV2\\", \\"extra\\": [1, Infinity]}"}', "train.extra[1]"),
    ('{"pid": "P0001", "train": {"num_epochs": 1e400}}', "train.num_epochs"),
    ('{"pid": "P0001", "train": {"model": "MobileNetV2", "note": {"x": -1e400}}}', "train.note.x"),
    ('{"pid": "P0001", "desc": NaN}', "desc"),
])
def test_nan_and_infinity_are_refused_at_every_depth_with_the_key_path(server: Server, body: str, path: str) -> None:
    refused(call(server, "POST", "/project/task", body.encode()), "invalid_argument", f"`{path}`", "finite")
    assert tasks(server) == []


def test_nan_in_the_query_string_train_is_refused(server: Server) -> None:
    query = urllib.parse.urlencode({"pid": "P0001", "train": '{"learning_rate": NaN}'})
    refused(call(server, "POST", f"/project/task?{query}"), "invalid_argument", "`train.learning_rate`")
    assert tasks(server) == []


def test_a_120_mb_body_gets_413_in_the_json_shape_and_the_server_goes_on(server: Server) -> None:
    body = b'{"name": "' + b"x" * (120 * 1024 * 1024) + b'"}'
    body_ = refused(call(server, "POST", "/dataset", body), "too_large", "64 MiB", status=413)
    assert "import datasets by path" in body_["message"]
    status, answer = call(server, "POST", "/dataset", b"x" * 10, {"Expect": "100-continue",
                                                                 "Content-Length": str(300 * 1024 * 1024)})
    assert status == 413 and answer["code"] == "too_large"
    assert server.request("GET", "/dataset") == (200, {"status": 1, "datasets": []})


def test_a_chunked_body_over_the_limit_gets_413(server: Server) -> None:
    chunk = b"x" * (1024 * 1024)
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=60)
    try:
        conn.request("POST", "/dataset", body=iter([b'{"name": "'] + [chunk] * 70 + [b'"}']),
                     encode_chunked=True, headers={"Transfer-Encoding": "chunked"})
        resp = conn.getresponse()
        assert resp.status == 413 and strict(resp.read())["code"] == "too_large"
    finally:
        conn.close()


def test_a_150_kb_request_line_is_answered_414(server: Server) -> None:
    refused(call(server, "GET", "/dataset?name=" + "a" * 150_000), "too_large", "URL", status=414)
    refused(call(server, "GET", "/dataset", headers={"X-Big": "b" * 100_000}), "too_large", "headers", status=431)
    assert server.request("GET", "/dataset")[0] == 200


def test_a_50_mb_name_is_refused_and_nothing_is_stored(server: Server) -> None:
    body = json.dumps({"name": "n" * (50 * 1024 * 1024), "dataset_type": "classification"}).encode()
    refused(call(server, "POST", "/dataset", body), "limit_exceeded", "`name`", "1,000")
    query = urllib.parse.urlencode({"name": "n" * 5000, "dataset_type": "classification"})
    refused(call(server, "POST", f"/dataset?{query}"), "limit_exceeded", "`name`")
    status, answer = call(server, "GET", "/dataset")
    assert status == 200 and answer["datasets"] == []
    ok = json.dumps({"name": "n" * limits.MAX_TEXT_CHARS, "dataset_type": "classification"}).encode()
    assert call(server, "POST", "/dataset", ok)[1]["did"] == "D0001"


def test_limits_answer_with_honest_status_too(serve) -> None:
    server = serve(None, "--honest-status")
    refused(call(server, "POST", "/dataset", f'{{"name": {deep(50)}}}'.encode()), "limit_exceeded", status=400)
    refused(call(server, "POST", "/dataset", b'{"name": 1e400}'), "invalid_argument", status=400)


JOB = """
from supervisor import report
report.metric(epoch=1, metrics={"loss": float("nan"), "acc": float("inf"), "top": [1.0, float("-inf")]})
report.done(ok=True, best=float("nan"))
"""


def test_a_job_reporting_nan_writes_json_everywhere(tmp_path, serve) -> None:
    from pdxsrv.supervision import endpoint_for
    from supervisor.client import Client

    server = serve(str(tmp_path / "ws"), supervise=True)
    job = tmp_path / "nan_job.py"
    job.write_text(JOB)
    client = Client(endpoint_for(server.workspace))
    try:
        client.spawn("T0009.train.1", [sys.executable, str(job)], str(tmp_path / "job"))
        wait_for(lambda: _reports(server, "done"), what="the job's done report")
        metric = _reports(server, "metric")[0]
        assert metric["data"]["metrics"]["loss"] is None and metric["data"]["metrics"]["top"] == [1.0, None]
        assert metric["data"]["sanitized"] == {"metrics.loss": "NaN", "metrics.acc": "Infinity",
                                               "metrics.top[1]": "-Infinity"}
        assert _reports(server, "done")[0]["data"]["sanitized"] == {"best": "NaN"}
        out = pdxsrv("events", "list", "--json", "--workspace", server.workspace)
        assert out.returncode == 0, out.stderr
        for line in out.stdout.splitlines():
            strict(line)
    finally:
        client.close()


def _reports(server: Server, kind: str) -> list[dict[str, Any]]:
    status, body = call(server, "GET", "/events/log?type=job.reported&limit=100")
    assert status == 200, body
    return [e["data"] for e in body["events"] if e["data"].get("kind") == kind]


def test_json_text_never_prints_nan() -> None:
    assert limits.json_text({"a": float("nan"), "b": [float("inf")], "c": "é"}) == '{"a": null, "b": [null], "c": "é"}'
