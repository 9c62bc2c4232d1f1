"""A restart, after kill -9 or a clean stop, answers every GET exactly as before."""

from __future__ import annotations

import os
import signal

import requests

from pdxsrv.client import Client
from tests.conftest import Server


def populate(c: Client, workspace: str) -> None:
    models = {"classification": "MobileNetV2", "detection": "YOLOv3", "segmentation": "UNet"}
    for i, (kind, model) in enumerate(models.items()):
        did = c.create_dataset(f"data {i}", kind, desc="生成的")["did"]
        pid = c.create_project(f"project {i}", kind)["pid"]
        c.set_attributes("project", pid, {"did": did, "desc": f"bound to {did}"})
        tid = c.create_task(pid, {"model": model, "num_epochs": i + 1}, desc="first")["tid"]
        c.set_task_params(tid, {"batch_size": 8})
        c.create_task(pid, {}, parent_id=tid)
    c.delete_task("T0002")
    c.create_dataset("spare", "instance_segmentation")
    c.delete_dataset("D0004")
    c.create_dataset("kept", "remote_segmentation")
    source = os.path.join(workspace, "saved")
    os.makedirs(source)
    open(os.path.join(source, "model.pdparams"), "w").close()
    c.save_pretrained("P0001", "T0001", "kept model", source_path=source, eval_results={"acc1": 0.5})
    c.record_exported("P0002", "T0003", "export", os.path.join(workspace, "export"))


def every_get(url: str) -> dict[str, object]:
    """The answers of every GET route, for every object in the workspace."""
    queries: list[tuple[str, dict]] = [("/workspace", {}), ("/dataset", {}), ("/project", {}), ("/project/task", {}),
                                       ("/model", {"type": "pretrained"}), ("/model", {"type": "exported"}),
                                       ("/system", {"type": "gpu_memory_size"})]
    for did in ("D0001", "D0002", "D0003", "D0004", "D0005"):
        queries += [("/dataset", {"did": did}), ("/dataset/details", {"did": did}),
                    ("/workspace", {"struct": "dataset", "id": did})]
    for pid in ("P0001", "P0002", "P0003"):
        queries += [("/project", {"id": pid}), ("/project/task", {"pid": pid}),
                    ("/workspace", {"struct": "project", "id": pid})]
    for tid in ("T0001", "T0002", "T0003", "T0004", "T0005", "T0006"):
        queries += [("/project/task", {"tid": tid}), ("/project/task", {"tid": tid, "resume": 1}),
                    ("/project/task/params", {"tid": tid}), ("/workspace", {"struct": "task", "id": tid}),
                    ("/project/task/evaluate", {"tid": tid}), ("/project/task/export", {"tid": tid})]
    queries += [("/model", {"mid": mid}) for mid in ("PM0001", "EM0001", "EM0002")]
    return {f"{path} {sorted(args.items())}": requests.get(url + path, json=args).json() for path, args in queries}


def test_restart_after_kill_9_and_after_a_clean_stop_answers_the_same(tmp_path) -> None:
    ws = str(tmp_path / "ws")
    server = Server(ws)
    try:
        populate(Client(server.url), ws)
        before = every_get(server.url)
        assert sum(1 for v in before.values() if v["status"] == 1) > 40
    finally:
        server.stop(signal.SIGKILL)

    server = Server(ws)
    try:
        assert every_get(server.url) == before
    finally:
        assert server.stop(signal.SIGTERM) == 0  # stopped whatever the answer: a failed test leaves no server

    server = Server(ws)
    try:
        assert every_get(server.url) == before
    finally:
        server.stop()
