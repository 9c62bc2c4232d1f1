"""The training-parameter schema over HTTP: refusals change nothing, partial objects are completed, the web
demo's objects are accepted, GET params {tid} shows what a task trains with, /openapi.json documents it."""

from __future__ import annotations

import asyncio
import json
from typing import Any, Iterator

import pytest
import requests

from pdxsrv import system
from pdxsrv.api.recommend import ASSUMED_TRAIN_IMAGES
from pdxsrv.domain import commands as c
from pdxsrv.domain import events as ev
from pdxsrv.domain import jobs
from pdxsrv.domain.params import BACKBONES
from pdxsrv.domain.recipes import Facts, recommend
from pdxsrv.domain.train_keys import TYPES
from pdxsrv.store import Store
from tests.conftest import Server

LEGACY = {"model": "MobileNetV2", "epochs": 3, "num_epochs": "2"}  # a task stored before the schema existed
SWITCHES = ("brightness", "contrast", "saturation", "rotate", "hue", "vertical_flip", "horizontal_flip")
FIRST_BACKBONE = {"FasterRCNN": "ResNet50"}  # the demo's Backbone_List entry selected when the model changes
DETAILS = ("brightness_prob", "brightness_range", "contrast_prob", "contrast_range", "saturation_prob",
           "saturation_range", "hue_prob", "hue_range", "vertical_flip_prob", "horizontal_flip_prob", "rotate_prob",
           "rotate_range")


async def _seed(root: str) -> None:
    """Per type a dataset imported and split as an import job leaves it, bound to a project; then a classification
    project on a dataset not imported yet, and a task of it stored as before the schema."""
    store = Store(root)
    for i, kind in enumerate(TYPES, 1):
        did, job = f"D{i:04d}", f"D{i:04d}.import.1"
        await store.execute(c.create_dataset, f"{kind} data", "", kind)
        await store.execute(c.start_import, did, job, "/src")
        await store.execute(jobs.job_seen, {"job": job, "state": "running", "pid": 1})
        done = {"ok": True, "presplit": True, "summary": {"labels": ["a", "b", "c"], "train_num": 40}}
        await store.execute(jobs.job_reports, job, [{"seq": 1, "ts": 0.0, "type": "done", "v": 1, "data": done}])
        await store.execute(jobs.job_seen, {"job": job, "state": "exited", "pid": 1, "exit_code": 0})
        await store.execute(c.create_project, f"{kind} project", "", kind)
        await store.execute(c.set_attributes, "project", f"P{i:04d}", {"did": did})
    await store.execute(c.create_dataset, "empty", "", "classification")
    await store.execute(c.create_project, "unsplit", "", "classification")
    await store.execute(c.set_attributes, "project", "P0006", {"did": "D0006"})
    await store.execute(lambda state: [ev.TaskCreated("T0001", "P0001", "legacy", dict(LEGACY))])
    await store.aclose()


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    workspace = str(tmp_path_factory.mktemp("train-params") / "ws")
    asyncio.run(_seed(workspace))
    srv = Server(workspace)
    yield srv
    srv.stop()


PIDS = {kind: f"P{i:04d}" for i, kind in enumerate(TYPES, 1)}


def call(server: Server, method: str, path: str, **body: Any) -> dict[str, Any]:
    return requests.request(method, server.url + path, json=body, timeout=30).json()


def created(server: Server, pid: str, train: Any) -> dict[str, Any]:
    """POST /project/task, then the task's parameters as GET /project/task/params {tid} answers them."""
    answer = call(server, "POST", "/project/task", pid=pid, train=train)
    assert answer["status"] == 1, answer
    return call(server, "GET", "/project/task/params", tid=answer["tid"])["train"]


def recommended(server: Server, kind: str, model: str | None = None) -> dict[str, Any]:
    query = f"?pid={PIDS[kind]}" + (f"&model_type={model}" if model else "")
    return requests.get(server.url + "/project/task/params" + query, timeout=30).json()["train"]


UNSTABLE = ("batch_size", "learning_rate")  # follow the free RAM, read at each request
ANY = object()  # any value


def covers(shown: dict[str, Any], expected: dict[str, Any]) -> bool:
    """Whether `shown` has every expected value (the effective parameters add the fallbacks of the rest)."""
    return {k: shown.get(k) for k in expected if k not in UNSTABLE} == {
        k: shown.get(k) if v is ANY else v for k, v in expected.items() if k not in UNSTABLE}


REFUSALS = [
    ({"epochs": 2}, "unknown training parameter 'epochs'; did you mean 'num_epochs'?"),
    ({"num_epochs": "two"}, "training parameter 'num_epochs' must be an integer, got 'two'"),
    ({"num_epochs": 0}, "training parameter 'num_epochs' must be an integer from 1 to 100000, got 0"),
    ({"lr_policy": "Step"}, "training parameter 'lr_policy' must be one of: Piecewise, Cosine, Polynomial, Linear, "
                            "got 'Step'"),
    ({"loss_type": [True, False]}, "'loss_type' is for segmentation and remote_segmentation projects"),
]


@pytest.mark.parametrize("train, message", REFUSALS)
def test_a_bad_train_object_is_refused_naming_the_key_and_creates_nothing(server: Server, train: dict,
                                                                          message: str) -> None:
    before = call(server, "GET", "/project/task")["tasks"]
    for sent in (train, json.dumps(train)):  # an object, or a JSON string as the web demo sends it
        answer = call(server, "POST", "/project/task", pid=PIDS["classification"], train=sent)
        assert (answer["status"], answer["code"]) == (-1, "invalid_argument") and message in answer["message"]
    assert call(server, "GET", "/project/task")["tasks"] == before


@pytest.mark.parametrize("train, message", REFUSALS)
def test_bad_params_posted_to_a_task_are_refused_and_change_nothing(server: Server, train: dict, message: str) -> None:
    tid = call(server, "POST", "/project/task", pid=PIDS["classification"], train={"num_epochs": 3})["tid"]
    before = call(server, "GET", "/project/task/params", tid=tid)["train"]
    answer = call(server, "POST", "/project/task/params", tid=tid, train=train)
    assert (answer["status"], answer["code"]) == (-1, "invalid_argument") and message in answer["message"]
    assert call(server, "GET", "/project/task/params", tid=tid)["train"] == before


@pytest.mark.parametrize("kind", TYPES)
def test_a_partial_train_object_is_completed_with_the_recommended_values(server: Server, kind: str) -> None:
    shown = created(server, PIDS[kind], {"num_epochs": "3", "seed": 5})
    assert covers(shown, {**recommended(server, kind), "num_epochs": 3, "seed": 5})


def test_the_recommendation_completing_a_task_is_for_the_model_it_names(server: Server) -> None:
    shown = created(server, PIDS["detection"], {"model": "FasterRCNN", "image_shape": [160, 160]})
    assert covers(shown, {**recommended(server, "detection", "FasterRCNN"), "image_shape": [160, 160]})
    assert shown["backbone"] in BACKBONES["FasterRCNN"]  # FasterRCNN's numbers, not YOLOv3's (DarkNet53 ...)
    seg = created(server, PIDS["segmentation"], {"model": "u-net"})
    assert seg["model"] == "UNet" and "backbone" not in seg


def test_a_dataset_not_split_yet_still_gets_complete_parameters(server: Server) -> None:
    shown = created(server, "P0006", {"model": "MobileNetV3_small", "num_epochs": 10})
    facts = Facts([], [], system.cpu_capacity(), ASSUMED_TRAIN_IMAGES, ASSUMED_TRAIN_IMAGES // 4, 1)
    assumed = recommend("classification", "MobileNetV3_small", facts, lambda _: False)["train"]
    assert covers(shown, {**assumed, "num_epochs": 10, "pretrain_weights": None, "cuda_visible_devices": ANY})
    answer = call(server, "GET", "/project/task/params", pid="P0006")  # the recommendation itself needs the split
    assert answer["code"] == "conflict" and "not split" in answer["message"]


def test_posted_params_are_merged_coerced_and_shown(server: Server) -> None:
    tid = call(server, "POST", "/project/task", pid=PIDS["segmentation"], train={"num_epochs": 3})["tid"]
    assert call(server, "POST", "/project/task/params", tid=tid,
                train={"lr_policy": "cosine", "blur": "on", "blur_prob": "0.3"})["status"] == 1
    shown = call(server, "GET", "/project/task/params", tid=tid)["train"]
    assert (shown["lr_policy"], shown["blur"], shown["blur_prob"], shown["num_epochs"]) == ("Cosine", True, 0.3, 3)


def test_a_task_stored_before_the_schema_shows_its_effective_parameters(server: Server) -> None:
    shown = call(server, "GET", "/project/task/params", tid="T0001")["train"]
    assert shown["epochs"] == 3 and shown["num_epochs"] == "2"  # stored values as they are...
    assert shown["batch_size"] == 2 and shown["lr_policy"] == "Piecewise" and shown["optimizer"] == "Momentum"
    assert call(server, "POST", "/project/task/params", tid="T0001", train={"num_epochs": 5})["status"] == 1
    fixed = call(server, "GET", "/project/task/params", tid="T0001")["train"]
    assert fixed["num_epochs"] == 5 and "epochs" not in fixed  # ...until set: what nothing read is dropped


def js(value: Any) -> str:
    """`String(value)` in JavaScript (an input's value)."""
    if value is None:
        return "undefined"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, list):
        return ",".join(js(v) for v in value)
    return str(value)


def number(text: str) -> int | float:
    """`Number(text)` in JavaScript, as JSON.stringify then writes it."""
    value = float(text)
    return int(value) if value.is_integer() else value


def web_demo_train(params: dict[str, Any], gpus: str = "", model: str | None = None) -> dict[str, Any]:
    """What paddlex_restful_demo.html (2.1.1) sends as `train`: the parameters it loaded, its form's fields
    (create_task, get_input_task_parm_value) and the augmentation window's inputs (set_data_augument_parms)."""
    p = dict(params)
    p["model"] = model or p["model"]
    p["backbone"] = FIRST_BACKBONE.get(model, "") if model else p.get("backbone") or ""  # "NA" is sent as ""
    for key in ("num_epochs", "batch_size", "save_interval_epochs"):
        p[key] = int(js(p[key]))
    p["learning_rate"] = float(js(p["learning_rate"]))
    for key in ("image_shape", "image_mean", "image_std"):
        p[key] = [number(v) for v in js(p[key]).split(",")]
    if gpus:
        p["use_gpu"], p["cuda_visible_devices"] = True, gpus
    for key in SWITCHES:  # a switch with no value shows its first option, "on"
        p[key] = not (p.get(key) is False or p.get(key) == "off")
    for key in DETAILS:  # input values are strings; "undefined" where the parameters had none
        p[key] = js(p.get(key))
    return p


@pytest.mark.parametrize("kind", TYPES)
def test_the_web_demos_train_objects_are_accepted(server: Server, kind: str) -> None:
    loaded = recommended(server, kind)
    other = {"segmentation": "U-Net", "detection": "FasterRCNN"}.get(kind)  # another model picked in the form
    for gpus, model in (("", None), ("0,1", None), ("", other)):
        train = web_demo_train(loaded, gpus, model)
        shown = created(server, PIDS[kind], json.dumps(train))  # "创建并启动训练": POST /project/task
        assert shown["brightness_prob"] == 0.5 and shown["hue_range"] == 18
        assert shown["brightness"] is loaded["brightness"]
        assert shown["cuda_visible_devices"] == (gpus or loaded["cuda_visible_devices"])  # no GPU field: as loaded
        if model:
            assert shown["model"] == {"U-Net": "UNet"}.get(model, model)
        tid = call(server, "GET", "/project/task", pid=PIDS[kind])["tasks"][-1]["id"]
        again = web_demo_train(call(server, "GET", "/project/task/params", tid=tid)["train"], gpus)
        answer = call(server, "POST", "/project/task/params", tid=tid, train=json.dumps(again))  # "启动训练"
        assert answer["status"] == 1, answer


def test_openapi_documents_the_schema_of_train(server: Server) -> None:
    document = requests.get(server.url + "/openapi.json", timeout=30).json()
    schemas = document["components"]["schemas"]
    for path, method in (("/project/task", "post"), ("/project/task/params", "post")):
        (train,) = [p for p in document["paths"][path][method]["parameters"] if p["name"] == "train"]
        refs = [s["$ref"] for s in train["schema"]["anyOf"] if "$ref" in s]
        assert [r.rsplit("/", 1)[1] for r in refs] == [f"TrainParams.{t}" for t in TYPES]
        assert all(r.startswith("#/components/schemas/") for r in refs)
    det = schemas["TrainParams.detection"]["properties"]
    assert det["use_mixup"]["type"] == "boolean" and "YOLOv3" in det["use_mixup"]["description"]
    assert det["num_epochs"]["minimum"] == 1 and det["lr_policy"]["enum"] == ["Piecewise", "Cosine", "Polynomial",
                                                                              "Linear"]
    assert det["use_gpu"]["deprecated"] is True and "cuda_visible_devices" in det["use_gpu"]["description"]
    assert "loss_type" in schemas["TrainParams.segmentation"]["properties"] and "loss_type" not in det
