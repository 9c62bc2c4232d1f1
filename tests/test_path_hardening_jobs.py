"""Weights and exports with real training jobs: a hostile or linked-out weights file is never opened with pickle,
real checkpoints still load, and an export into an allowed root writes nothing outside it (issue 17, finding 5)."""

from __future__ import annotations

import os
import pickle
import threading
from typing import Iterator

import pytest

from pdxsrv.client import ApiError, Client
from pdxsrv.domain.enums import TaskStatus
from tests.conftest import Server
from tests.training_support import SHORT, supervised_server, trained_classifier, wait_exported, wait_trained

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    base = tmp_path_factory.mktemp("weights-hardening")
    (base / "outside").mkdir()
    (base / "root2").mkdir()
    (base / "allowed").mkdir()
    with supervised_server(base / "allowed", "--allow-path", str(base / "root2")) as srv:
        srv.outside, srv.root2 = str(base / "outside"), str(base / "root2")
        yield srv


@pytest.fixture(scope="module")
def trained(server: Server) -> tuple[str, str]:
    return trained_classifier(Client(server.url), server.base, seed=5)


class _Hostile:
    def __init__(self, marker: str) -> None:
        self.marker = marker

    def __reduce__(self):
        return os.system, (f"touch {self.marker}",)


def test_a_hostile_pretrained_file_fails_the_training_and_runs_nothing(server: Server,
                                                                       trained: tuple[str, str]) -> None:
    c = Client(server.url)
    pid, _ = trained
    folder = os.path.join(server.base, "hostile-model")
    os.makedirs(folder)
    marker = os.path.join(server.base, "hostile-ran")
    with open(os.path.join(folder, "model.pdparams"), "wb") as f:
        pickle.dump({"conv1.weight": _Hostile(marker)}, f)
    params = {**SHORT, "model": "MobileNetV3_small", "num_epochs": 1, "pretrain_weights": folder}
    tid = c.create_task(pid, params)["tid"]
    c.train(tid)
    answer = wait_trained(c, tid)
    assert answer["task_status"] == TaskStatus.XTRAINFAIL, answer
    assert "system" in answer["message"] and "nothing in the file was run" in answer["message"], answer["message"]
    assert not os.path.exists(marker)


def test_a_registered_model_swapped_for_a_link_out_is_refused_at_training(server: Server,
                                                                          trained: tuple[str, str]) -> None:
    c = Client(server.url)
    pid, first = trained
    pmid = c.save_pretrained(pid, first, "kept")["pmid"]  # the task's best model, copied into the workspace
    weights = os.path.join(server.workspace, "pretrain", pmid, "model.pdparams")
    outside = os.path.join(server.outside, "model.pdparams")
    os.replace(weights, outside)
    os.symlink(outside, weights)
    tid = c.create_task(pid, {**SHORT, "model": "MobileNetV3_small", "num_epochs": 1, "pretrain_weights": pmid})["tid"]
    with pytest.raises(ApiError) as info:
        c.train(tid)
    assert info.value.code == "path_not_allowed" and "pretrain_weights" in info.value.message


def test_training_from_a_registered_model_and_export_into_an_allowed_root_write_nothing_outside(
        server: Server, trained: tuple[str, str]) -> None:
    c = Client(server.url)
    pid, first = trained
    pmid = c.save_pretrained(pid, first, "start")["pmid"]
    tid = c.create_task(pid, {**SHORT, "model": "MobileNetV3_small", "num_epochs": 1, "pretrain_weights": pmid})["tid"]
    c.train(tid)
    answer = wait_trained(c, tid)  # the registered copy loads through the restricted unpickler
    assert answer["task_status"] == TaskStatus.XTRAINDONE, answer
    parent = os.path.dirname(server.root2)
    before = set(os.listdir(parent))
    seen: set[str] = set()
    done = threading.Event()

    def watch() -> None:  # the staging folder lives only while the export runs
        while not done.is_set():
            seen.update(os.listdir(parent))
            done.wait(0.02)

    watcher = threading.Thread(target=watch)
    watcher.start()
    try:
        c.export(tid, "infer", server.root2)
        exported = wait_exported(c, tid)
    finally:
        done.set()
        watcher.join()
    assert exported["save_dir"] == server.root2
    assert seen | set(os.listdir(parent)) == before, f"written outside the allowed root: {seen - before}"
    assert "inference.pdiparams" in os.listdir(server.root2)
    assert not [n for n in os.listdir(server.root2) if n.startswith(".")]  # no staging left behind
