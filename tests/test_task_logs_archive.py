"""A task's err.log/out.log where the original's clients read them, a failure's cause in err.log, export archives."""

from __future__ import annotations

import io
import os
import zipfile

import pytest
import requests

from pdxsrv.client import ApiError, Client
from pdxsrv.domain.enums import TaskStatus
from tests.conftest import Server
from tests.training_support import SHORT, project_on_generated_data, supervised_server, wait_exported, wait_trained

# A first step at a learning rate of 1e30 leaves infinite weights: the loss is nan at the second step.
FAILING = {**SHORT, "model": "MobileNetV3_small", "num_epochs": 1, "pretrain_weights": None, "batch_size": 2,
           "optimizer": "Momentum", "warmup_steps": 10, "warmup_start_lr": 1e30}
TINY = {**SHORT, "model": "MobileNetV3_small", "num_epochs": 1, "pretrain_weights": None}


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory):
    with supervised_server(tmp_path_factory.mktemp("tasklogs")) as srv:
        yield srv


@pytest.fixture(scope="module")
def pid(server: Server) -> str:
    return project_on_generated_data(Client(server.url), server.base, "classification", images=8, seed=3)


def _log(c: Client, server: Server, pid: str, tid: str, name: str) -> str:
    path = os.path.join(server.workspace, "projects", pid, tid, name)
    response = requests.get(server.url + "/file", params={"path": path}, timeout=30)
    assert response.status_code == 200 and response.headers["Content-Type"].startswith("text/plain"), response.text
    return response.text


def test_a_failed_training_writes_its_cause_last_in_the_tasks_err_log(server: Server, pid: str) -> None:
    c = Client(server.url)
    tid = c.create_task(pid, FAILING)["tid"]
    c.train(tid)
    failed = wait_trained(c, tid, timeout=180)
    assert failed["task_status"] == TaskStatus.XTRAINFAIL and "the loss became nan" in failed["message"]
    err = _log(c, server, pid, tid, "err.log")
    assert err.rstrip("\n").endswith(failed["message"].rstrip("\n")), err[-2000:]
    link = os.path.join(server.workspace, "projects", pid, tid, "err.log")
    assert os.path.islink(link) and not os.path.isabs(os.readlink(link))
    assert os.path.realpath(link) == os.path.join(os.path.realpath(server.workspace), ".pdxsrv", "jobs",
                                                  f"{tid}.train.1", "err.log")


def test_the_logs_follow_the_tasks_latest_job_and_go_with_the_task(server: Server, pid: str) -> None:
    c = Client(server.url)
    tid = c.create_task(pid, TINY)["tid"]
    c.train(tid)
    assert wait_trained(c, tid, timeout=300)["task_status"] == TaskStatus.XTRAINDONE
    task_dir = os.path.join(server.workspace, "projects", pid, tid)
    assert os.readlink(os.path.join(task_dir, "out.log")).endswith(f"{tid}.train.1/out.log")
    assert "job failed" not in _log(c, server, pid, tid, "err.log")
    _log(c, server, pid, tid, "out.log")

    out = os.path.join(server.base, "exports", tid)
    c.export(tid, "infer", out)
    wait_exported(c, tid)
    assert os.readlink(os.path.join(task_dir, "err.log")).endswith(f"{tid}.export.1/err.log")

    c.delete_task(tid)
    assert not os.path.lexists(os.path.join(task_dir, "err.log")) and not os.path.exists(task_dir)


def test_an_export_downloads_as_one_zip_confined_to_its_directory(server: Server, pid: str) -> None:
    c = Client(server.url)
    tid = c.create_task(pid, TINY)["tid"]
    with pytest.raises(ApiError, match="POST /project/task/export first"):
        c.call("GET", "/project/task/export/archive", tid=tid)
    c.train(tid)
    assert wait_trained(c, tid, timeout=300)["task_status"] == TaskStatus.XTRAINDONE
    first, second = (os.path.join(server.base, "exports", f"{tid}-{n}") for n in ("a", "b"))
    for folder in (first, second):
        c.export(tid, "infer", folder)
        wait_exported(c, tid)
    os.symlink("/etc/hostname", os.path.join(second, "outside.txt"))
    with open(os.path.join(server.base, "inside-root.txt"), "w") as f:
        f.write("not part of the export")
    os.symlink(os.path.join(server.base, "inside-root.txt"), os.path.join(second, "elsewhere.txt"))

    response = requests.get(server.url + "/project/task/export/archive", params={"tid": tid}, timeout=60)
    assert response.status_code == 200 and response.headers["Content-Type"] == "application/zip"
    assert response.headers["Content-Disposition"] == f'attachment; filename="{tid}-infer.zip"'
    names = zipfile.ZipFile(io.BytesIO(response.content)).namelist()
    assert sorted(names) == sorted(os.listdir(first)) == sorted(n for n in os.listdir(second) if "." in n and
                                                                 n not in ("outside.txt", "elsewhere.txt"))
    assert "deploy.yml" in names and not {"outside.txt", "elsewhere.txt"} & set(names)

    chosen = requests.get(server.url + "/project/task/export/archive", params={"tid": tid, "save_dir": first},
                          timeout=60)
    with zipfile.ZipFile(io.BytesIO(chosen.content)) as archive:
        with open(os.path.join(first, "deploy.yml"), "rb") as f:
            assert archive.read("deploy.yml") == f.read()
    with pytest.raises(ApiError, match="no finished export in"):
        c.call("GET", "/project/task/export/archive", tid=tid, save_dir=server.base)
    with pytest.raises(ApiError, match="outside the directories"):
        c.call("GET", "/project/task/export/archive", tid=tid, save_dir="/etc")
