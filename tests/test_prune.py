"""Pruning over HTTP: sensitivity analysis (stoppable, charted), then a pruned child task retrained from it."""

from __future__ import annotations

import base64
import os
from typing import Any, Iterator

import pytest

from pdxsrv.client import ApiError, Client
from pdxsrv.domain.enums import PruneStatus, TaskStatus
from tests.conftest import Server
from tests.supervisor_support import wait_for
from tests.training_support import (
    SEG_SHORT, SHORT, project_on_generated_data, run_exported, supervised_server, wait_evaluated, wait_exported,
    wait_trained,
)

PNG = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    with supervised_server(tmp_path_factory.mktemp("prune")) as srv:
        yield srv


def _wait_analysed(c: Client, tid: str, timeout: float = 900) -> dict[str, Any]:
    return wait_for(lambda: (p := c.prune_status(tid))["prune_status"] not in (PruneStatus.XSPRUNESTART,
                                                                               PruneStatus.XSPRUNEING) and p,
                    timeout=timeout, what=f"pruning analysis of {tid}")


def _evaluated(c: Client, tid: str, key: str) -> float:
    c.call("POST", "/project/task/evaluate", tid=tid, epoch=None, topk=None, score_thresh=None, overlap_thresh=None)
    return float(wait_evaluated(c, tid, timeout=300)["result"][key])


def _stop_and_resume(c: Client, tid: str) -> None:
    """Stop a training in its second epoch and resume it from what the stop kept."""
    wait_for(lambda: ((c.metrics(tid, "train")["train_log"]["train_metrics"] or {}).get("Epoch") or 0) >= 2,
             timeout=600, what=f"the second epoch of {tid}")
    c.stop_training(tid)
    stopped = wait_trained(c, tid)
    assert stopped["task_status"] == TaskStatus.XTRAINEXIT and stopped["resumable"], stopped
    c.resume_training(tid, stopped["max_saved_epochs"])
    assert c.task(tid)["task_status"] in (TaskStatus.XPRUNETRAIN, TaskStatus.XTRAINDONE)


def _prune_and_retrain(server: Server, kind: str, params: dict[str, Any], key: str, images: int,
                       retrain: dict[str, Any], stop: bool = False) -> None:
    c = Client(server.url)
    pid = project_on_generated_data(c, server.base, kind, images=images, seed=5)
    tid = c.create_task(pid, params)["tid"]
    with pytest.raises(ApiError, match="no trained model"):
        c.start_prune(tid)
    c.train(tid)
    assert (t := wait_trained(c, tid, timeout=900))["task_status"] == TaskStatus.XTRAINDONE, t

    c.start_prune(tid)
    assert c.task(tid)["task_status"] in (TaskStatus.XPRUNEING, TaskStatus.XTRAINDONE)
    with pytest.raises(ApiError, match="PRUNEING|already has a prune job"):
        c.train(tid)
    assert _wait_analysed(c, tid)["prune_status"] == PruneStatus.XSPRUNEDONE
    assert c.task(tid)["task_status"] == TaskStatus.XTRAINDONE  # the analysis leaves the task as training did
    log = c.call("GET", "/project/task/metrics", tid=tid, type="prune")["prune_log"]
    assert log["iters"] == log["current"] > 0 and log["progress"] == 1.0 and os.path.isfile(log["log_file"])
    answer = c.call("GET", "/project/task/metrics", tid=tid, type="sensitivities")
    curve = answer["sensitivities_loss_img"]
    assert curve and all(0 <= float(x) <= 1 and 0 < y < 1 for x, y in curve.items())
    layers = answer["sensitivities"]["layers"]
    assert layers and all(set(layer["loss"]) == {"0.1", "0.2", "0.3", "0.4", "0.5", "0.6", "0.7", "0.8", "0.9"}
                          for layer in layers.values())
    chart = c.call("GET", "/file", path=answer["chart_path"])["img_data"]
    assert base64.b64decode(chart).startswith(PNG)

    child = c.create_task(pid, {}, parent_id=tid)["tid"]
    assert c.task_params(child)["train"]["model"] == params["model"]  # a pruning task takes its parent's parameters
    c.set_task_params(child, retrain)  # fine-tuning: gentler than training from scratch
    with pytest.raises(ApiError, match="between 0 and 1"):
        c.train(child, pruned_flops=1.5)
    c.train(child, pruned_flops=0.3)
    assert c.task(child)["task_status"] in (TaskStatus.XPRUNETRAIN, TaskStatus.XTRAINDONE)
    if stop:
        _stop_and_resume(c, child)  # the resumed run keeps the pruned shapes (a job process of its own)
    assert wait_trained(c, child, timeout=900)["task_status"] == TaskStatus.XTRAINDONE
    pruning = c.call("GET", "/project/task/metrics", tid=child, type="train")["train_log"]["pruning"]
    (flops_before, flops_after), (params_before, params_after) = pruning["flops"], pruning["params"]
    assert flops_after <= 0.75 * flops_before and params_after < params_before
    assert _evaluated(c, child, key) >= _evaluated(c, tid, key) - 0.05

    folder = f"{server.base}/pruned-{kind}"
    c.export(child, "infer", folder)
    assert wait_exported(c, child)["export_status"] == TaskStatus.XEXPORTED
    image = next(iter(c.dataset_details(c.project(pid)["attr"]["did"])["details"]["val_files"]))
    config, outputs = run_exported(folder, f"{c.dataset(c.project(pid)['attr']['did'])['attr']['path']}/{image}")
    assert outputs and config["labels"]


def test_prune_classification(server: Server) -> None:
    _prune_and_retrain(server, "classification",
                       {**SHORT, "model": "ResNet18", "num_epochs": 8, "save_interval_epochs": 4,
                        "learning_rate": 0.01, "lr_policy": "Cosine"}, "Acc1", images=64,
                       retrain={"learning_rate": 0.002, "num_epochs": 4}, stop=True)


def test_prune_segmentation(server: Server) -> None:
    _prune_and_retrain(server, "segmentation",
                       {**SEG_SHORT, "model": "FastSCNN", "num_epochs": 10, "save_interval_epochs": 5, "batch_size": 8,
                        "learning_rate": 0.01, "optimizer": "Adam", "lr_policy": "Cosine"}, "Mean_IoU", images=40,
                       retrain={"num_epochs": 4, "learning_rate": 0.002})


def test_prune_refusals_and_stop(server: Server) -> None:
    c = Client(server.url)
    pid = project_on_generated_data(c, server.base, "segmentation", images=16, seed=6)
    tid = c.create_task(pid, {**SEG_SHORT, "model": "UNet", "num_epochs": 1})["tid"]
    with pytest.raises(ApiError, match="not a pruning task"):
        c.train(tid, pruned_flops=0.3)
    c.train(tid)
    assert wait_trained(c, tid)["task_status"] == TaskStatus.XTRAINDONE
    child = c.create_task(pid, {}, parent_id=tid)["tid"]
    with pytest.raises(ApiError, match="no finished pruning analysis"):
        c.train(child, pruned_flops=0.3)
    with pytest.raises(ApiError, match="give pruned_flops"):
        c.train(child)

    c.start_prune(tid)
    wait_for(lambda: c.prune_status(tid)["prune_status"] == PruneStatus.XSPRUNEING, timeout=120, what="analysis start")
    assert c.stop_prune(tid)["prune_status"] == PruneStatus.XSPRUNEEXIT
    assert c.task(tid)["task_status"] == TaskStatus.XTRAINDONE
    with pytest.raises(ApiError, match="no pruning analysis is running"):
        c.stop_prune(tid)
    with pytest.raises(ApiError, match="no sensitivities"):
        c.call("GET", "/project/task/metrics", tid=tid, type="sensitivities")

    other = c.create_task(pid, {**SEG_SHORT, "model": "BiSeNetV2"})["tid"]
    with pytest.raises(ApiError, match="BiSeNetV2 .* cannot be pruned"):
        c.start_prune(other)
