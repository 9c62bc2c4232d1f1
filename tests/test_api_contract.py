"""The HTTP contract: one error shape on every route, the original's bugs fixed, coercion, security."""

from __future__ import annotations

import json
import os
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests

from pdxsrv.api.routes import ROUTES
from pdxsrv.client import ApiError, Client
from tests.conftest import Server


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory):
    base = tmp_path_factory.mktemp("contract")
    os.makedirs(base / "allowed")
    srv = Server(str(base / "ws"), "--allow-path", str(base / "allowed"))
    yield srv
    srv.stop()


@pytest.fixture(scope="module")
def bound(server: Server) -> dict[str, str]:
    """A dataset, a project bound to it and a task."""
    c = Client(server.url)
    did = c.create_dataset("d", "classification")["did"]
    pid = c.create_project("p", "classification")["pid"]
    c.set_attributes("project", pid, {"did": did})
    tid = c.create_task(pid, {"model": "MobileNetV2"})["tid"]
    return {"did": did, "pid": pid, "tid": tid}


def check_shape(response: requests.Response) -> dict:
    """Every answer is a JSON object in the one shape, never a traceback or a Python repr."""
    body = response.json()
    assert isinstance(body, dict) and body.get("status") in (1, -1), body
    if body["status"] == -1:
        assert isinstance(body["message"], str) and body["message"] and isinstance(body["code"], str)
        assert "Traceback" not in body["message"] and "Error(" not in body["message"], body
    return body


def test_every_route_and_method_answers_in_the_one_shape(server: Server, bound: dict[str, str]) -> None:
    seen = 0
    for path, _, ops in ROUTES:
        for method in ("GET", "POST", "PUT", "DELETE", "PATCH"):
            for body in (None, {}, {"tid": "T9999", "did": "D9999", "pid": "P9999", "id": "X", "type": "nope"}):
                if path == "/events/stream" and method == "GET":
                    body = {"since": "not a seq"}  # a valid request would stream forever
                response = requests.request(method, server.url + path, json=body)
                if path == "/openapi.json" and method == "GET":
                    assert response.json()["openapi"] == "3.1.0"
                    continue
                assert response.status_code == (200 if method in ops else 405), (method, path)
                payload = check_shape(response)
                if method not in ops:
                    assert payload["code"] == "method_not_allowed" and method in payload["message"]
                seen += 1
    assert seen > 100
    # "/" is not among them: it serves the web console (issue 16).
    for path in ("/nope", "/dataset/image", "/dataset/npy", "/project/task/train/file", "/model/file"):
        response = requests.get(server.url + path, json={"path": "/etc/passwd"})
        assert response.status_code == 404 and check_shape(response)["code"] == "not_found"


def test_malformed_json_is_a_clear_error(server: Server) -> None:
    for raw in (b"{oops", b"[1, 2]", b"\xff\xfe", b'"text"'):
        body = check_shape(requests.post(server.url + "/dataset", data=raw))
        assert body["code"] == "bad_request" and "JSON" in body["message"]


def test_project_post_with_path_is_refused_not_a_crash(server: Server) -> None:
    body = check_shape(requests.post(server.url + "/project", json={"name": "x", "desc": "", "project_type":
                                                                      "detection", "path": "/tmp/elsewhere"}))
    assert body["status"] == -1 and "'path'" in body["message"]


def test_model_get_of_a_missing_id_is_not_found(server: Server) -> None:
    body = check_shape(requests.get(server.url + "/model", json={"mid": "PM0042"}))
    assert body["code"] == "not_found" and "PM0042" in body["message"]


def test_get_evaluate_export_predict_prune_before_any_run(server: Server, bound: dict[str, str]) -> None:
    for path in ("/project/task/evaluate", "/project/task/export", "/project/task/predict", "/project/task/prune"):
        body = check_shape(requests.get(server.url + path, json={"tid": bound["tid"]}))
        assert body["code"] == "not_started" and bound["tid"] in body["message"]
    body = check_shape(requests.get(server.url + "/project/task/metrics", json={"tid": bound["tid"], "type": "eval_all"}))
    assert body["code"] == "not_started"
    body = check_shape(requests.put(server.url + "/project/task/export", json={"tid": bound["tid"]}))
    assert body["code"] == "conflict"


@pytest.mark.parametrize("attribute", ["path", "id", "type", "create_time"])
def test_put_workspace_cannot_set_path_or_id(server: Server, bound: dict[str, str], attribute: str) -> None:
    body = check_shape(requests.put(server.url + "/workspace", json={
        "struct": "dataset", "id": bound["did"], "attr_dict": {attribute: "/"}}))
    assert body["code"] == "invalid_argument" and repr(attribute) in body["message"]
    attr = requests.get(server.url + "/dataset", json={"did": bound["did"]}).json()["attr"]
    assert attr["id"] == bound["did"] and attr["path"].endswith(os.path.join("datasets", bound["did"]))


def test_binding_a_dataset_checks_it(server: Server, bound: dict[str, str]) -> None:
    c = Client(server.url)
    det = c.create_dataset("det", "detection")["did"]
    with pytest.raises(ApiError) as info:
        c.set_attributes("project", bound["pid"], {"did": det})
    assert info.value.code == "conflict" and "detection" in info.value.message
    with pytest.raises(ApiError) as info:
        c.set_attributes("project", bound["pid"], {"did": "D0999"})
    assert info.value.code == "not_found"


def test_a_bound_dataset_cannot_be_deleted(server: Server, bound: dict[str, str]) -> None:
    body = check_shape(requests.delete(server.url + "/dataset", json={"did": bound["did"]}))
    assert body["code"] == "conflict" and bound["pid"] in body["message"]


def test_files_outside_the_allowed_directories_cannot_be_read(server: Server) -> None:
    ws = os.path.realpath(server.workspace)
    sibling = ws + "2"  # the original's startswith() check let /ws2 pass for /ws
    os.makedirs(sibling, exist_ok=True)
    with open(os.path.join(sibling, "secret.log"), "w") as f:
        f.write("secret")
    os.symlink(os.path.join(sibling, "secret.log"), os.path.join(ws, "link.log"))
    for path in ("/etc/passwd", os.path.join(sibling, "secret.log"), os.path.join(ws, "link.log"),
                 os.path.join(ws, "..", os.path.basename(sibling), "secret.log")):
        body = check_shape(requests.get(server.url + "/file", json={"path": path}))
        assert body["code"] == "path_not_allowed" and "--allow-path" in body["message"]
    allowed = os.path.join(os.path.dirname(ws), "allowed", "ok.log")
    with open(allowed, "w") as f:
        f.write("hello")
    response = requests.get(server.url + "/file", params={"path": allowed})
    assert response.text == "hello"
    body = check_shape(requests.get(server.url + "/file", json={"path": os.path.join(ws, ".pdxsrv")}))
    assert body["code"] == "not_found" and "directory" in body["message"]


def test_query_string_values_are_coerced(server: Server, bound: dict[str, str]) -> None:
    body = check_shape(requests.get(server.url + f"/project/task/params?pid={bound['pid']}&gpu_list=0,1"))
    assert "GPU 0 does not exist" in body["message"]  # parsed as [0, 1]; this machine has no GPU
    body = check_shape(requests.put(server.url + f"/project/task/train?tid={bound['tid']}&act=resume&epoch=3"))
    assert "epoch 3" in body["message"]
    body = check_shape(requests.put(server.url + f"/project/task/train?tid={bound['tid']}&act=resume&epoch=three"))
    assert body["code"] == "invalid_argument" and "'epoch' must be an integer" in body["message"]
    body = check_shape(requests.get(server.url + "/workspace?struct=task&id=" + bound["tid"] + "&attr_list=pid,desc"))
    assert body["attr"] == {"pid": bound["pid"], "desc": ""}
    train = json.dumps({"model": "ResNet18"})
    body = check_shape(requests.post(server.url + "/project/task/params", params={"tid": bound["tid"], "train": train}))
    assert body["status"] == 1


def test_concurrent_creates_never_collide(server: Server) -> None:
    def create(i: int) -> str:
        return requests.post(server.url + "/dataset", json={"name": f"c{i}", "desc": "",
                                                             "dataset_type": "segmentation"}).json()["did"]

    with ThreadPoolExecutor(64) as pool:
        ids = list(pool.map(create, range(128)))
    assert len(set(ids)) == 128


def test_token_and_honest_status(tmp_path) -> None:
    server = Server(str(tmp_path / "ws"), "--token", "s3cret", "--honest-status")
    try:
        response = requests.get(server.url + "/workspace")
        assert response.status_code == 401 and check_shape(response)["code"] == "unauthorized"
        c = Client(server.url, token="s3cret")
        assert c.workspace()["dirname"]
        with pytest.raises(ApiError) as info:
            c.dataset("D0404")
        assert info.value.http_status == 404 and info.value.code == "not_found"
    finally:
        server.stop()


def test_the_server_listens_on_loopback_by_default(server: Server) -> None:
    import psutil

    addresses = {c.laddr.ip for c in psutil.Process(server.proc.pid).net_connections() if c.status == "LISTEN"}
    assert addresses and addresses <= {"127.0.0.1"}


def test_openapi_documents_every_route_method_and_argument(server: Server) -> None:
    document = Client(server.url).openapi()
    for path, _, ops in ROUTES:
        for method, op in ops.items():
            described = document["paths"][path][method.lower()]
            assert [p["name"] for p in described["parameters"]] == [a.name for a in op.args]


def test_recommended_params_check_the_model_and_read_gpus_live(server: Server, bound: dict[str, str]) -> None:
    url = server.url + "/project/task/params"
    body = check_shape(requests.get(url, json={"pid": bound["pid"], "model_type": "YOLOv3"}))
    assert body["code"] == "invalid_argument" and "'YOLOv3' is not a classification model" in body["message"]
    body = check_shape(requests.get(url, json={"pid": bound["pid"], "gpu_list": [0]}))  # this machine has no GPU
    assert body["code"] == "invalid_argument" and "GPU 0" in body["message"]
    body = check_shape(requests.get(url, json={"pid": bound["pid"], "model_type": "ResNet50"}))
    assert body["code"] == "conflict" and "not split" in body["message"]
