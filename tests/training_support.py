"""Helpers of the training tests: a split dataset bound to a project, and waiting for jobs over HTTP."""

from __future__ import annotations

import os
from contextlib import contextmanager
from typing import Any, Iterator

import numpy as np
import psutil

from pdxsrv.client import Client
from pdxsrv.datasets.synthetic import make
from pdxsrv.domain.enums import DatasetStatus, PredictStatus, TaskStatus
from tests.conftest import Server
from pdxsrv.supervision import endpoint_for
from supervisor.client import Client as SupervisorClient
from tests.supervisor_support import wait_for

SHORT = {"num_epochs": 2, "save_interval_epochs": 1, "image_shape": [32, 32], "batch_size": 4}
SEG_SHORT = {**SHORT, "image_shape": [64, 64]}
ACTIVE = (int(TaskStatus.XTRAINING), int(TaskStatus.XPRUNETRAIN))


@contextmanager
def supervised_server(base: Any, *extra: str) -> Iterator[Server]:
    """A server with its supervisor on a workspace in `base`, which clients may also read from."""
    srv = Server(str(base / "ws"), "--allow-path", str(base), *extra, supervise=True)
    srv.base = str(base)
    try:
        yield srv
    finally:
        srv.stop()
        srv.shutdown_supervisor()


def project_on_generated_data(c: Client, base: str, kind: str, images: int = 24, seed: int = 0,
                              val: float = 0.25, test: float = 0.1) -> str:
    """Generate a dataset of `kind`, import and split it, bind it to a new project; return the pid."""
    source = os.path.join(base, f"{kind}-{seed}-{images}")
    if not os.path.isdir(source):
        make(kind, source, images=images, size=64, seed=seed)
    return project_on(c, source, kind, val, test)


def project_on(c: Client, source: str, kind: str, val: float = 0.25, test: float = 0.1) -> str:
    """Import `source` as a dataset of `kind`, split it, bind it to a new project; return the pid."""
    did = c.create_dataset(f"{kind} data", kind)["did"]
    c.import_dataset(did, source)
    wait_for(lambda: c.dataset(did)["dataset_status"] == DatasetStatus.XCOPYDONE, timeout=60, what="import")
    c.split_dataset(did, val, test)
    pid = c.create_project(f"{kind} project", kind)["pid"]
    c.set_attributes("project", pid, {"did": did})
    return pid


def trained_classifier(c: Client, base: str, seed: int) -> tuple[str, str]:
    """(pid, tid) of a MobileNetV3_small trained one epoch on 12 generated images."""
    pid = project_on_generated_data(c, base, "classification", images=12, seed=seed)
    tid = c.create_task(pid, {**SHORT, "model": "MobileNetV3_small", "num_epochs": 1})["tid"]
    c.train(tid)
    assert wait_trained(c, tid)["task_status"] == TaskStatus.XTRAINDONE
    return pid, tid


def job_process(server: Server, tid: str, kind: str = "train") -> psutil.Process:
    """The `kind` job process of `tid`, found through this server's own supervisor (never by name alone: another
    test worker may run a task of the same ID)."""
    client = SupervisorClient(endpoint_for(server.workspace), timeout=2.0, retries=2)
    try:
        jobs = [j for j in client.list() if j["job"].startswith(f"{tid}.{kind}.") and j["state"] == "running"]
    finally:
        client.close()
    assert len(jobs) == 1, f"one running {kind} job of {tid} expected, found {jobs}"
    runner = psutil.Process(jobs[0]["pid"])
    for proc in runner.children(recursive=True):
        if "pdxsrv.jobs" in proc.cmdline():
            return proc
    raise AssertionError(f"the runner {runner.pid} of {jobs[0]['job']} has no job process")


def status(c: Client, tid: str) -> dict[str, Any]:
    """GET /project/task {tid, resume}."""
    return c.task(tid, resume=True)


def wait_trained(c: Client, tid: str, timeout: float = 300) -> dict[str, Any]:
    """Wait until the task's training job ends; return the task's answer."""
    return wait_for(lambda: (t := status(c, tid))["task_status"] not in ACTIVE and t, timeout=timeout,
                    what=f"training of {tid}")


def wait_evaluated(c: Client, tid: str, timeout: float = 120) -> dict[str, Any]:
    """Wait until the task's evaluation ends; return GET /project/task/evaluate's answer."""
    return wait_for(lambda: (e := c.call("GET", "/project/task/evaluate", tid=tid))["evaluate_status"]
                    != TaskStatus.XEVALUATING and e, timeout=timeout, what=f"evaluation of {tid}")


def wait_predicted(c: Client, tid: str, timeout: float = 120) -> dict[str, Any]:
    """Wait until the task's prediction ends; return GET /project/task/predict's answer."""
    return wait_for(lambda: (p := c.prediction(tid))["predict_status"] != PredictStatus.XPRESTART and p,
                    timeout=timeout, what=f"prediction of {tid}")


def wait_exported(c: Client, tid: str, timeout: float = 300) -> dict[str, Any]:
    """Wait until the task's export ends; return GET /project/task/export's answer (ApiError if it failed)."""
    wait_for(lambda: c.task(tid)["task_status"] != TaskStatus.XEXPORTING, timeout=timeout, what=f"export of {tid}")
    return c.export_status(tid)


def run_exported(folder: str, image_path: str) -> tuple[dict[str, Any], list[np.ndarray]]:
    """(deploy.yml, outputs) of an exported model (paddle.inference or ONNX Runtime, as deploy.yml's `program`) run
    on one image, preprocessed as deploy.yml says."""
    import yaml

    from pdxsrv.engine import augment
    from pdxsrv.engine.export import InferenceModel
    from pdxsrv.engine.onnx_export import OnnxModel

    with open(os.path.join(folder, "deploy.yml"), encoding="utf-8") as f:
        config = yaml.safe_load(f)
    steps = {name: args for step in config["Transforms"] for name, args in step.items()}
    img = augment.read_raster(image_path) if config["in_channels"] != 3 else augment.read_rgb(image_path)
    h, w = img.shape[:2]
    if "CenterCrop" in steps:
        img = augment.center_crop(img, tuple(steps["CenterCrop"]["size"]))
    else:
        img = augment.resize(img, tuple(steps["Resize"]["target_size"]))
    norm = steps["Normalize"]
    x = augment.normalize(img, {"image_mean": norm["mean"], "image_std": norm["std"]})[None]
    height, width = x.shape[2:]
    feeds = {"image": x, "im_shape": np.array([[height, width]], np.float32),
             "scale_factor": np.array([[height / h, width / w]], np.float32)}
    path = os.path.join(folder, config["program"])
    program = OnnxModel(path) if path.endswith(".onnx") else InferenceModel(os.path.splitext(path)[0])
    return config, program.run({name: feeds[name] for name in program.inputs})
