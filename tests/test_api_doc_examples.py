"""Every `requests` example of restful_api.zh.md that needs no finished job, as written there."""

from __future__ import annotations

import base64
import json
import os

import pytest
import requests

from tests.conftest import Server


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory):
    workspace = tmp_path_factory.mktemp("ws")
    srv = Server(str(workspace))
    yield srv
    srv.stop()


def test_the_documented_examples(server: Server) -> None:
    url = server.url

    # /workspace GET with no args: the web demo's connection test.
    ret = requests.get(url + "/workspace")
    assert ret.status_code == 200 and ret.json()["dirname"] == os.path.realpath(server.workspace)

    # /dataset POST: "新建一个分类数据集"
    params = {"name": "我的数据集", "desc": "数据集描述", "dataset_type": "classification"}
    ret = requests.post(url + "/dataset", json=params)
    did = ret.json()["did"]
    assert (ret.json()["status"], did) == (1, "D0001")

    # /dataset GET Example1 (a JSON body on GET) and Example2.
    params = {"did": "D0001"}
    ret = requests.get(url + "/dataset", json=params)
    body = ret.json()
    assert body["status"] == 1 and {"id", "dataset_status", "message", "attr"} <= set(body)
    assert set(body["attr"]) == {"type", "id", "name", "path", "desc", "create_time", "pids"}
    assert body["dataset_status"] == 0 and body["attr"]["name"] == "我的数据集"
    ret = requests.get(url + "/dataset")
    (row,) = ret.json()["datasets"]
    assert set(row) == {"id", "attr"}
    assert set(row["attr"]) == {"type", "id", "name", "path", "desc", "create_time", "dataset_status", "message"}

    # /dataset/details GET: details is null until the dataset is imported.
    ret = requests.get(url + "/dataset/details", json={"did": "D0001"})
    assert ret.json() == {"status": 1, "details": None}

    # /project POST with the documented project types, GET one, GET all ("json=params" as written).
    for project_type in ("classification", "detection", "segmentation", "instance_segmentation",
                         "remote_segmentation"):
        params = {"name": "分类项目", "desc": "一个新的项目", "project_type": project_type}
        ret = requests.post(url + "/project", json=params)
        assert ret.json()["status"] == 1 and ret.json()["pid"].startswith("P")
    params = {"id": "P0001"}
    ret = requests.get(url + "/project", json=params)
    assert set(ret.json()["attr"]) >= {"id", "name", "desc", "type", "did", "path", "create_time", "tasks"}
    ret = requests.get(url + "/project", json=params)  # Example2 passes the same params; harmless
    ret = requests.get(url + "/project")
    assert len(ret.json()["projects"]) == 5

    # /workspace PUT, done with requests.post as the doc's example does: bind P0001 to D0001.
    attr_dict = {"did": "D0001"}
    params = {"struct": "project", "id": "P0001", "attr_dict": attr_dict}
    ret = requests.post(url + "/workspace", json=params)
    assert ret.json() == {"status": 1}

    # /project/task POST: the doc's example sends no body (and spells the id 'POOO1'): a clear error.
    params = {"pid": "POOO1"}
    ret = requests.post(url + "/project/task")
    assert ret.json()["status"] == -1 and "'pid' is required" in ret.json()["message"]
    ret = requests.post(url + "/project/task", json=params)
    assert ret.json()["status"] == -1 and "'POOO1' does not exist" in ret.json()["message"]
    # ...and as meant, with the train parameters as a JSON string like the web demo sends them.
    train = {"model": "MobileNetV2", "num_epochs": 4, "batch_size": 2}
    ret = requests.post(url + "/project/task", json={"pid": "P0001", "train": json.dumps(train)})
    tid = ret.json()["tid"]
    assert tid == "T0001"

    # /workspace GET Example: the task's path.
    params = {"struct": "task", "id": "T0001", "attr_list": ["path"]}
    ret = requests.get(url + "/workspace", json=params)
    assert ret.json()["status"] == 1
    task_path = ret.json()["attr"]["path"]
    assert task_path == os.path.join(os.path.realpath(server.workspace), "projects", "P0001", "T0001")

    # /project/task GET Example1 and Example2.
    params = {"tid": "T0001"}
    ret = requests.get(url + "/project/task", json=params)
    assert {"task_status", "message"} <= set(ret.json()) and ret.json()["task_status"] == 1
    ret = requests.get(url + "/project/task", json={"tid": "T0001", "resume": True})
    assert ret.json()["resumable"] is False and ret.json()["max_saved_epochs"] == -1
    ret = requests.get(url + "/project/task")
    assert [t["id"] for t in ret.json()["tasks"]] == ["T0001"]

    # /project/task/params GET Example1 and POST.
    params = {"tid": "T0001"}
    ret = requests.get(url + "/project/task/params", json=params)
    train_dict = ret.json()["train"]
    assert train_dict.items() >= train.items()  # completed with the recommended values
    train_dict["num_epochs"] = 6
    params = {"tid": "T0001", "train": train_dict}
    ret = requests.post(url + "/project/task/params", json=params)
    assert ret.json()["status"] == 1
    assert requests.get(url + "/project/task/params", json={"tid": "T0001"}).json()["train"]["num_epochs"] == 6

    # /project/task/params GET Example2 (a detection project) needs a split dataset: a clear answer saying so.
    det = requests.post(url + "/dataset", json={"name": "虫子", "desc": "", "dataset_type": "detection"}).json()["did"]
    requests.put(url + "/workspace", json={"struct": "project", "id": "P0002", "attr_dict": {"did": det}})
    params = {"pid": "P0002", "model_type": "PPYOLO"}
    ret = requests.get(url + "/project/task/params", json=params)
    assert ret.json()["status"] == -1 and "not split" in ret.json()["message"]

    # /file Example1 (an image, base64) and Example2 (xml as text), on files of the workspace.
    os.makedirs(os.path.join(server.workspace, "datasets", "D0001"), exist_ok=True)
    image = os.path.join(server.workspace, "datasets", "D0001", "a.png")
    png = base64.b64decode(
        "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg=="
    )
    with open(image, "wb") as f:
        f.write(png)
    params = {"path": image}
    ret = requests.get(url + "/file", json=params)
    img_data = base64.b64decode(ret.json()["img_data"])
    assert img_data == png
    xml = os.path.join(server.workspace, "datasets", "D0001", "a.xml")
    with open(xml, "w") as f:
        f.write("<annotation><object><name>dog</name></object></annotation>")
    params = {"path": xml}
    ret = requests.get(url + "/file", json=params)
    xml_file = ret.text
    assert "<name>dog</name>" in xml_file

    # /system Example1 and Example2 (the doc writes url + 'system'; the route is /system).
    params = {"type": "machine_info"}
    ret = requests.get(url + "/system", json=params)
    info = ret.json()["info"]
    assert {"message", "cpu_num", "gpu_num", "sysstr"} <= set(info) and isinstance(info["cpu_num"], int)
    params = {"type": "gpu_memory_size"}
    ret = requests.get(url + "/system", json=params)
    gpu_mem_infos = ret.json()["gpu_mem_infos"]
    assert isinstance(gpu_mem_infos, list)
    assert all(set(g) == {"free", "used", "total"} for g in gpu_mem_infos)

    # /model POST (pretrained) from a saved model directory, GET by type, GET by id, DELETE.
    source = os.path.join(server.workspace, "projects", "P0001", "T0001", "output", "best_model")
    os.makedirs(source)
    for name in ("model.pdparams", "model.pdopt", "model.yml"):
        with open(os.path.join(source, name), "w") as f:
            f.write(name)
    params = {"pid": "P0001", "tid": "T0001", "name": "Pretrain_model", "type": "pretrained",
              "source_path": source}
    ret = requests.post(url + "/model", json=params)
    pmid = ret.json()["pmid"]
    assert pmid == "PM0001"
    copied = os.path.join(server.workspace, "pretrain", "PM0001")
    assert sorted(os.listdir(copied)) == ["model.pdparams", "model.yml"], "the optimizer state is not kept"
    ret = requests.get(url + "/model", json={"type": "pretrained"})
    (model,) = ret.json()["pretrained_models"]
    assert set(model) == {"id", "name", "model", "type", "pid", "tid", "create_time", "path"}
    ret = requests.get(url + "/model", json={"mid": "PM0001"})
    assert {"dataset_attr", "task_params", "eval_result"} <= set(ret.json())
    assert json.loads(ret.json()["task_params"])["num_epochs"] == 6
    export_dir = os.path.join(server.workspace, "exports", "T0001")
    ret = requests.post(url + "/model", json={"pid": "P0001", "tid": "T0001", "name": "T0001_export_model",
                                              "type": "exported", "source_path": "", "path": export_dir,
                                              "exported_type": 0, "eval_results": {}})
    assert ret.json()["emid"] == "EM0001"
    params = {"type": "exported"}
    ret = requests.get(url + "/model", json=params)
    assert [m["id"] for m in ret.json()["exported_models"]] == ["EM0001"]
    params = {"type": "exported", "emid": "EM0001"}
    ret = requests.delete(url + "/model", json=params)
    assert ret.json()["status"] == 1
    assert requests.get(url + "/model", json={"type": "exported"}).json()["exported_models"] == []

    # /project/task DELETE (the doc's example forgets the body: a clear error), /project DELETE, /dataset DELETE.
    params = {"tid": "T0001"}
    ret = requests.delete(url + "/project/task")
    assert ret.json()["status"] == -1 and "'tid' is required" in ret.json()["message"]
    ret = requests.delete(url + "/project/task", json=params)
    assert ret.json()["status"] == 1 and not os.path.exists(task_path)
    params = {"did": "D0001"}
    ret = requests.delete(url + "/dataset", json=params)
    assert ret.json()["status"] == -1 and "P0001" in ret.json()["message"], "still bound to P0001"
    params = {"pid": "P0001"}
    ret = requests.delete(url + "/project", json=params)
    assert ret.json()["status"] == 1
    ret = requests.delete(url + "/dataset", json={"did": "D0001"})
    assert ret.json()["status"] == 1
    assert [d["id"] for d in requests.get(url + "/dataset").json()["datasets"]] == [det]


def test_job_examples_answer_clearly_before_any_job_ran(server: Server) -> None:
    url = server.url
    did = requests.post(url + "/dataset", json={"name": "d", "desc": "", "dataset_type": "detection"}).json()["did"]
    pid = requests.post(url + "/project", json={"name": "p", "desc": "", "project_type": "detection"}).json()["pid"]
    requests.put(url + "/workspace", json={"struct": "project", "id": pid, "attr_dict": {"did": did}})
    tid = requests.post(url + "/project/task", json={"pid": pid, "train": {}}).json()["tid"]
    examples = [
        ("put", "/dataset", {"did": did, "path": "/path/to/dataset"}, "path_not_allowed"),
        ("put", "/dataset/split", {"did": did, "val_split": 0.2, "test_split": 0.1}, "conflict"),
        ("post", "/project/task/train", {"tid": tid}, "conflict"),
        ("put", "/project/task/train", {"tid": tid, "act": "stop"}, "conflict"),
        ("get", "/project/task/prune", {"tid": tid}, "not_started"),
        ("post", "/project/task/prune", {"tid": tid}, "not_available"),  # a detection task: never prunable
        ("put", "/project/task/prune", {"tid": tid, "act": "stop"}, "conflict"),
        ("get", "/project/task/evaluate", {"tid": tid}, "not_started"),
        ("post", "/project/task/evaluate",
         {"tid": tid, "epoch": None, "topk": 5, "score_thresh": None, "overlap_thresh": None}, "conflict"),
        ("get", "/project/task/metrics", {"tid": tid, "type": "train"}, "not_started"),
        ("get", "/project/task/predict", {"tid": tid}, "not_started"),
        ("post", "/project/task/predict", {"tid": tid, "image_data": "aGk="}, "conflict"),
        ("put", "/project/task/predict", {"tid": tid}, "conflict"),
        ("get", "/project/task/export", {"tid": tid}, "not_started"),
        ("post", "/project/task/export",
         {"tid": tid, "type": "infer", "save_dir": os.path.join(server.workspace, "out"), "quant": False}, "conflict"),
        ("put", "/project/task/export", {"tid": tid}, "conflict"),
        ("get", "/project/task/vdl", {"tid": tid}, "not_started"),
        ("post", "/demo", {"type": "download", "prj_type": 0}, "not_available"),  # no supervisor to run it
        ("post", "/demo", {"type": "load", "prj_type": 0}, "conflict"),
        ("put", "/demo", {"prj_type": 0}, "conflict"),
    ]
    for method, path, params, code in examples:
        ret = getattr(requests, method)(url + path, json=params)
        body = ret.json()
        assert ret.status_code == 200 and body["status"] == -1, (method, path, body)
        assert body["code"] == code and body["message"], (method, path, body)
    # /demo GET Example: no demo was prepared yet.
    ret = requests.get(url + "/demo", json={"prj_type": 0})
    assert ret.json() == {"status": 1, "attr": {"status": None, "progress": 0.0, "message": ""}}
