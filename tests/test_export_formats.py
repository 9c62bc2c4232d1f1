"""ONNX and quantized exports over HTTP: verified, runnable from deploy.yml alone, metrics before/after."""

from __future__ import annotations

import base64
import os
import subprocess
import sys
from typing import Any, Iterator

import numpy as np
import pytest

from pdxsrv.client import ApiError, Client
from pdxsrv.domain.enums import TaskStatus
from tests.conftest import Server
from tests.training_support import (
    SEG_SHORT, SHORT, project_on_generated_data, run_exported, supervised_server, wait_exported, wait_predicted,
    wait_trained,
)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    with supervised_server(tmp_path_factory.mktemp("formats")) as srv:
        yield srv


def _trained(c: Client, base: str, kind: str, params: dict[str, Any], seed: int) -> tuple[str, str, str]:
    """(pid, tid, an image of the project's dataset) of a trained task."""
    pid = project_on_generated_data(c, base, kind, images=16, seed=seed)
    tid = c.create_task(pid, params)["tid"]
    c.train(tid)
    assert wait_trained(c, tid)["task_status"] == TaskStatus.XTRAINDONE
    folder = os.path.join(base, f"{kind}-{seed}-16", "JPEGImages")
    folder = folder if os.path.isdir(folder) else os.path.join(base, f"{kind}-{seed}-16")
    image = next(os.path.join(d, f) for d, _, names in os.walk(folder) for f in sorted(names) if f.endswith(".jpg"))
    return pid, tid, image


def _predicted_category(c: Client, tid: str, image: str) -> str:
    with open(image, "rb") as f:
        c.predict(tid, image_data=base64.b64encode(f.read()).decode())
    return wait_predicted(c, tid)["results"][0]["result"]["category"]


def _installed() -> str:
    return subprocess.run([sys.executable, "-m", "pip", "freeze", "--all"], capture_output=True, text=True,
                          check=True).stdout


def test_onnx_and_quantized_classification(server: Server) -> None:
    c = Client(server.url)
    installed = _installed()
    pid, tid, image = _trained(c, server.base, "classification",
                               {**SHORT, "model": "MobileNetV3_small", "num_epochs": 2}, seed=11)
    category = _predicted_category(c, tid, image)

    onnx_dir = os.path.join(server.base, "onnx", tid)
    c.export(tid, "onnx", onnx_dir)
    assert wait_exported(c, tid)["export_status"] == TaskStatus.XEXPORTED
    assert sorted(os.listdir(onnx_dir)) == ["deploy.yml", "inference.onnx", "inference.yml"]  # PaddleX's, for ONNX
    assert _installed() == installed  # paddle2onnx's default optimizer pip-installs at run time; ours must not
    config, outputs = run_exported(onnx_dir, image)  # ONNX Runtime, preprocessed from deploy.yml alone
    assert config["program"] == "inference.onnx" and config["labels"][int(np.argmax(outputs[0][0]))] == category
    records = [m for m in c.call("GET", "/model", type="exported")["exported_models"] if m["tid"] == tid]
    assert [(m["path"], m["exported_type"]) for m in records] == [(os.path.realpath(onnx_dir), 2)]

    quant_dir = os.path.join(server.base, "quant", tid)
    c.export(tid, "infer", quant_dir, quant=True)
    assert wait_exported(c, tid, timeout=600)["export_status"] == TaskStatus.XEXPORTED
    result = c.call("GET", "/project/task/export", tid=tid, quant="result")["quant_result"]
    assert set(result) == {"before", "after"} and set(result["before"]) == set(result["after"]) >= {"acc1"}
    log = c.call("GET", "/project/task/export", tid=tid, quant="log")["quant_log"]
    assert (log["stage"], log["running_duration"]) == ("Finish", 1.0) and os.path.isfile(log["log_file"])
    config, outputs = run_exported(quant_dir, image)
    assert config["quantized"] is True and outputs[0].shape == (1, len(config["labels"]))


def test_onnx_segmentation_and_quantization_refusals(server: Server) -> None:
    c = Client(server.url)
    pid, tid, image = _trained(c, server.base, "segmentation", {**SEG_SHORT, "model": "BiSeNetV2"}, seed=12)
    out = os.path.join(server.base, "onnx", tid)
    c.export(tid, "onnx", out)
    assert wait_exported(c, tid)["export_status"] == TaskStatus.XEXPORTED
    config, outputs = run_exported(out, image)
    assert config["program"] == "inference.onnx" and outputs[0].shape == (1, 64, 64)  # a label map
    assert 0 <= outputs[0].min() and outputs[0].max() < len(config["labels"])

    with pytest.raises(ApiError, match="quantized export is for classification models"):
        c.export(tid, "infer", out, quant=True)
    with pytest.raises(ApiError, match="exported as 'onnx'"):
        c.export(tid, "onnx", out, quant=True)
    det = project_on_generated_data(c, server.base, "detection", images=8, seed=13)
    det_tid = c.create_task(det, {"model": "YOLOv3"})["tid"]
    with pytest.raises(ApiError, match="YOLOv3 cannot be exported to ONNX: paddle2onnx 2.1.0 cannot convert"):
        c.export(det_tid, "onnx", out)
    assert c.task(tid)["task_status"] == TaskStatus.XEXPORTED  # refusals change nothing
