"""Stop and resume, and a training process killed with SIGKILL, through the HTTP API."""

from __future__ import annotations

import os
import signal

import pytest

from pdxsrv.client import Client
from pdxsrv.domain.enums import TaskStatus
from pdxsrv.engine import checkpoint
from tests.conftest import Server
from tests.supervisor_support import wait_for
from tests.training_support import job_process, supervised_server, project_on_generated_data, wait_trained

# Enough steps per epoch (30) that a stop lands inside an epoch; eval every 2 epochs, so stopping in
# epoch 2 has no checkpoint of epoch 1 yet and the stop must save one mid-epoch.
PARAMS = {"model": "MobileNetV3_small", "num_epochs": 3, "save_interval_epochs": 2, "batch_size": 2,
          "image_shape": [64, 64], "learning_rate": 0.01, "lr_policy": "Cosine", "pretrain_weights": None}


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory):
    with supervised_server(tmp_path_factory.mktemp("lifecycle")) as srv:
        yield srv


def _progress(c: Client, tid: str) -> tuple[int, int]:
    log = c.metrics(tid, "train")["train_log"]
    metrics = log["train_metrics"] or {}
    return metrics.get("Epoch") or 0, metrics.get("Step") or 0


def _final(c: Client, tid: str) -> float:
    log = c.metrics(tid, "eval_all")
    return log["epoch_result_dict"]["3"]


def test_stop_mid_epoch_then_resume_ends_like_an_uninterrupted_run(server: Server) -> None:
    c = Client(server.url)
    pid = project_on_generated_data(c, server.base, "classification", images=80, seed=5, val=0.2, test=0.0)
    straight = c.create_task(pid, PARAMS)["tid"]
    c.train(straight)
    assert wait_trained(c, straight)["task_status"] == TaskStatus.XTRAINDONE

    tid = c.create_task(pid, PARAMS)["tid"]
    c.train(tid)
    wait_for(lambda: _progress(c, tid) >= (2, 5), timeout=120, what="the middle of epoch 2")
    c.stop_training(tid)
    stopped = wait_trained(c, tid)
    assert stopped["task_status"] == TaskStatus.XTRAINEXIT, stopped["message"]
    assert "resume with epoch 1" in stopped["message"]
    assert (stopped["resumable"], stopped["max_saved_epochs"]) == (True, 1)
    meta = checkpoint.read_meta(os.path.join(server.workspace, "projects", pid, tid, "output", "epoch_1"))
    assert meta["epoch"] == 1 and 5 <= meta["step"] < 30, "the stop kept the finished steps of epoch 2"

    c.resume_training(tid, 1)
    resumed = wait_trained(c, tid)
    assert resumed["task_status"] == TaskStatus.XTRAINDONE, resumed["message"]
    assert resumed["max_saved_epochs"] == 3
    assert set(c.metrics(tid, "eval_all")["epoch_result_dict"]) == {"2", "3"}
    assert abs(_final(c, tid) - _final(c, straight)) <= 0.15, "the resumed run ends like the uninterrupted one"


def test_a_killed_training_fails_with_the_cause_and_resumes_from_its_last_checkpoint(server: Server) -> None:
    c = Client(server.url)
    pid = project_on_generated_data(c, server.base, "classification", images=80, seed=6, val=0.2, test=0.0)
    tid = c.create_task(pid, {**PARAMS, "save_interval_epochs": 1})["tid"]
    c.train(tid)
    wait_for(lambda: _progress(c, tid) >= (2, 3), timeout=120, what="epoch 2")
    job_process(server, tid).send_signal(signal.SIGKILL)
    failed = wait_trained(c, tid, timeout=30)
    assert failed["task_status"] == TaskStatus.XTRAINFAIL
    assert "signal 9 (SIGKILL)" in failed["message"]
    assert (failed["resumable"], failed["max_saved_epochs"]) == (True, 1)
    output = os.path.join(server.workspace, "projects", pid, tid, "output")
    for name in ("epoch_1", "best_model"):
        assert sorted(os.listdir(os.path.join(output, name))) == ["meta.json", "model.pdopt", "model.pdparams"]

    c.resume_training(tid, 1)
    resumed = wait_trained(c, tid)
    assert resumed["task_status"] == TaskStatus.XTRAINDONE, resumed["message"]
    assert not [e for e in os.listdir(output) if e.startswith((".tmp-", ".old-"))]


@pytest.mark.parametrize("kind,model,size,key", [("detection", "PPYOLOTiny", 160, "bbox_map"),
                                                   ("instance_segmentation", "MaskRCNN", 64, "segm_map")])
def test_a_detection_task_stops_mid_epoch_and_resumes_to_its_planned_end(server: Server, kind: str, model: str,
                                                                        size: int, key: str) -> None:
    c = Client(server.url)
    images = 40 if model == "PPYOLOTiny" else 16  # Mask R-CNN steps are the slowest (ResNet18: half ResNet50's)
    pid = project_on_generated_data(c, server.base, kind, images=images, seed=7, val=0.25, test=0.0)
    backbone = "ResNet18" if model == "MaskRCNN" else None
    tid = c.create_task(pid, {"model": model, "backbone": backbone, "num_epochs": 3, "save_interval_epochs": 2, "batch_size": 2,
                              "image_shape": [size, size], "learning_rate": 0.001, "pretrain_weights": None})["tid"]
    c.train(tid)
    wait_for(lambda: _progress(c, tid) >= (2, 3), timeout=240, what="the middle of epoch 2")
    c.stop_training(tid)
    stopped = wait_trained(c, tid)
    assert stopped["task_status"] == TaskStatus.XTRAINEXIT, stopped["message"]
    assert (stopped["resumable"], stopped["max_saved_epochs"]) == (True, 1)
    c.resume_training(tid, 1)
    resumed = wait_trained(c, tid)
    assert resumed["task_status"] == TaskStatus.XTRAINDONE, resumed["message"]
    assert set(c.metrics(tid, "eval_all")["epoch_result_dict"]) == {"2", "3"}
    assert c.metrics(tid, "eval_all")["key"] == key
