"""Generated requests from the route table against a live server: no 5xx, every answer in the one shape."""

from __future__ import annotations

import json
import os

import pytest
import requests
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pdxsrv.api.routes import ROUTES
from pdxsrv.api.spec import ANY, BOOL, FLOAT, INT, INT_LIST, OBJECT, STR_LIST, Arg
from tests.conftest import Server

EXAMPLES = 2100
STREAMS = ("/openapi.json", "/events/stream")  # not JSON answers: tested on their own
OPS = [(path, method, op) for path, _, ops in ROUTES if path not in STREAMS for method, op in ops.items()]
IDS = st.sampled_from(["D0001", "D0002", "P0001", "P0002", "T0001", "T0002", "PM0001", "EM0001", "D9999", ""])
junk = st.one_of(
    st.none(), st.booleans(), st.integers(-(2**70), 2**70), st.floats(allow_nan=True), st.text(max_size=12),
    st.lists(st.integers(-5, 5), max_size=3), st.dictionaries(st.text(max_size=5), st.integers(), max_size=3),
)
sent: list[int] = []


def value_for(arg: Arg, workspace: str) -> st.SearchStrategy:
    """Plausible values of the argument's kind, its choices, IDs, paths, and junk."""
    if arg.choices:
        plausible = st.sampled_from(arg.choices)
    elif arg.name in ("path", "source_path", "save_dir", "model_path"):
        plausible = st.sampled_from([workspace, os.path.join(workspace, "datasets"), "/etc/passwd", "..", "",
                                     os.path.join(workspace, "x.png")])
    elif arg.name in ("did", "pid", "tid", "id", "mid", "pmid", "emid", "parent_id"):
        plausible = IDS
    else:
        plausible = {
            INT.name: st.integers(-3, 300), FLOAT.name: st.floats(-1, 2), BOOL.name: st.booleans(),
            INT_LIST.name: st.lists(st.integers(-1, 3), max_size=3),
            STR_LIST.name: st.lists(st.text(max_size=8), max_size=3),
            OBJECT.name: st.dictionaries(st.sampled_from(["model", "num_epochs", "did", "name"]),
                                         st.integers(0, 9) | st.text(max_size=6), max_size=3),
            ANY.name: st.integers(-1, 6) | st.text(max_size=8),
        }.get(arg.kind.name, st.text(max_size=16))
    return st.one_of(plausible, plausible, junk)


@st.composite
def requests_(draw: st.DrawFn, workspace: str) -> tuple[str, str, str, object]:
    path, method, op = draw(st.sampled_from(OPS))
    args = {}
    for arg in op.args:
        if draw(st.booleans()) or (arg.required and draw(st.integers(0, 9)) > 0):
            args[arg.name] = draw(value_for(arg, workspace))
    if draw(st.integers(0, 9)) == 0:
        args[draw(st.text(min_size=1, max_size=6))] = draw(junk)
    how = draw(st.sampled_from(["json", "json", "query", "raw"]))
    if how == "raw":
        return method, path, how, draw(st.binary(max_size=40))
    return method, path, how, args


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory):
    srv = Server(str(tmp_path_factory.mktemp("fuzz") / "ws"))
    yield srv
    srv.stop()
    assert len(sent) >= 2000


def test_generated_requests_get_the_one_shape(server: Server) -> None:
    session = requests.Session()
    ws = os.path.realpath(server.workspace)

    @settings(max_examples=EXAMPLES, deadline=None, database=None,
              suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
    @given(request=requests_(ws))
    def one(request: tuple[str, str, str, object]) -> None:
        method, path, how, payload = request
        if how == "json":
            response = session.request(method, server.url + path, data=json.dumps(payload, allow_nan=True))
        elif how == "query":
            params = {k: v if isinstance(v, str) else json.dumps(v) for k, v in payload.items()}
            response = session.request(method, server.url + path, params=params)
        else:
            response = session.request(method, server.url + path, data=payload)
        sent.append(response.status_code)
        assert response.status_code < 500, (request, response.text)
        if response.headers.get("Content-Disposition"):
            return  # a raw file from /file
        body = response.json()
        assert isinstance(body, dict) and body.get("status") in (1, -1), body
        if body["status"] == -1:
            assert set(body) == {"status", "message", "code"} and body["message"] and body["code"], body

    one()
    assert server.proc.poll() is None
    assert session.get(server.url + "/workspace").json()["status"] == 1
