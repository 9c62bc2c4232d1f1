"""A point-in-time restore (`pdxsrv events replay --until X --to NEW [--with-files]`) gives a workspace that works
(issue 17, finding 11).

One source workspace, served with its own supervisor, gets a dataset imported and split, a task trained one epoch
(1 minute or so on a CPU), evaluated and exported, and a pretrained model of it; the restore point X is taken
there. After X the pretrained model is deleted, so a restore with files cannot bring it back. Every process a test
starts is reached through its own workspace (its server, its supervisor), never by name.
"""

from __future__ import annotations

import hashlib
import json
import os
from typing import Any, Iterator

import pytest
import requests

from eventlog import read_records
from pdxsrv.client import ApiError, Client
from pdxsrv.domain.enums import DatasetStatus, TaskStatus
from pdxsrv.store import events_dir
from tests.conftest import Server, pdxsrv
from tests.training_support import SHORT, supervised_server, trained_classifier, wait_evaluated, wait_exported, \
    wait_trained
from tests.supervisor_support import wait_for


@pytest.fixture(scope="module")
def source(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """The source workspace: D0001 (split), P0001, T0001 (trained, evaluated, exported), PM0001; X = the seq after
    them; PM0001 deleted after X. The server is stopped before the tests restore (its supervisor too)."""
    base = tmp_path_factory.mktemp("restore")
    with supervised_server(base) as srv:
        c = Client(srv.url)
        pid, tid = trained_classifier(c, str(base), seed=3)
        c.evaluate(tid)
        assert wait_evaluated(c, tid)["evaluate_status"] == TaskStatus.XEVALUATED
        c.export(tid, "infer", str(base / "ws" / "exports" / tid))
        assert wait_exported(c, tid)["export_status"] == TaskStatus.XEXPORTED
        pmid = c.save_pretrained(pid, tid, "kept")["pmid"]
        until = max(r.seq for r in read_records(events_dir(srv.workspace)))
        c.delete_model("pretrained", pmid)
        ids = {"did": c.project(pid)["attr"]["did"], "pid": pid, "tid": tid, "pmid": pmid}
    yield {"base": base, "ws": str(base / "ws"), "until": until, **ids}


def restore(src: dict[str, Any], name: str, *extra: str) -> tuple[str, str]:
    """Replay the source up to X into base/name; (the new workspace, the command's output)."""
    target = str(src["base"] / name)
    done = pdxsrv("events", "replay", "--workspace", src["ws"], "--until", str(src["until"]), "--to", target, *extra)
    assert done.returncode == 0, done.stderr
    return target, done.stdout


def every_get(url: str, src: dict[str, Any], ws: str) -> dict[str, tuple[int, Any]]:
    """(HTTP status, body) of every GET route, for every object of the restored workspace."""
    did, pid, tid, pmid = src["did"], src["pid"], src["tid"], src["pmid"]
    image = next(os.path.join(root, name) for root, _, names in os.walk(os.path.join(src["ws"], "datasets", did))
                 for name in names if name.endswith((".png", ".jpg")))
    image = image.replace(src["ws"], ws)
    queries: list[tuple[str, dict[str, Any]]] = [
        ("/workspace", {}), ("/dataset", {}), ("/dataset", {"did": did}), ("/dataset/details", {"did": did}),
        ("/workspace", {"struct": "dataset", "id": did}), ("/file", {"path": image}), ("/file", {"path": image, "did": did}),
        ("/project", {}), ("/project", {"id": pid}), ("/workspace", {"struct": "project", "id": pid}),
        ("/project/task", {}), ("/project/task", {"pid": pid}), ("/project/task", {"tid": tid}),
        ("/project/task", {"tid": tid, "resume": 1}), ("/project/task/params", {"tid": tid}),
        ("/project/task/params", {"pid": pid}), ("/workspace", {"struct": "task", "id": tid}),
        ("/project/task/evaluate", {"tid": tid}), ("/project/task/predict", {"tid": tid}),
        ("/project/task/prune", {"tid": tid}), ("/project/task/export", {"tid": tid}),
        ("/project/task/export", {"tid": tid, "quant": "log"}), ("/project/task/export/archive", {"tid": tid}),
        ("/project/task/vdl", {"tid": tid}), ("/model", {"type": "pretrained"}), ("/model", {"type": "exported"}),
        ("/model", {"mid": pmid}), ("/system", {"type": "machine_info"}), ("/demo", {"prj_type": 0}),
        ("/events/log", {}), ("/events/log", {"id": tid}), ("/browse", {}), ("/browse", {"path": ws}),
        ("/openapi.json", {}), ("/file", {"path": os.path.join(ws, "projects", pid, tid, "out.log")}),
    ]
    queries += [("/project/task/metrics", {"tid": tid, "type": kind})
                for kind in ("train", "eval", "eval_all", "sensitivities", "prune")]
    answers = {}
    for path, args in queries:
        resp = requests.get(url + path, params={k: str(v) for k, v in args.items()}, timeout=60)
        try:
            body = resp.json()
        except ValueError:
            body = resp.content[:200]
        answers[f"GET {path} {sorted(args.items())}"] = (resp.status_code, body)
    return answers


def refusal(call: Any) -> ApiError:
    with pytest.raises(ApiError) as caught:
        call()
    return caught.value


def test_a_restore_without_files_serves_every_route_and_says_the_files_are_missing(source) -> None:
    ws, out = restore(source, "bare")
    did, tid, pmid = source["did"], source["tid"], source["pmid"]
    assert "--with-files" in out and did in out and tid in out
    server = Server(ws, "--allow-path", str(source["base"]), supervise=True)
    try:
        answers = every_get(server.url, source, ws)
        errors = {k: v for k, v in answers.items() if v[0] >= 500}
        assert not errors, errors
        c = Client(server.url)
        assert "files are missing" in c.dataset(did)["message"]
        assert "restored from the event log without them" in c.dataset(did)["message"]
        assert "files are missing" in c.datasets()["datasets"][0]["attr"]["message"]
        details = answers[f"GET /dataset/details {[('did', did)]}"][1]
        assert details["status"] == -1 and details["code"] == "files_missing", details
        task = c.task(tid)
        assert task["task_status"] == TaskStatus.XEXPORTED and "trained model is missing" in task["message"], task
        row = c.models("pretrained")["pretrained_models"][0]
        assert row["id"] == pmid and "files are missing" in row["message"]
        assert "files are missing" in c.model(pmid)["message"]
        assert "missing" in answers[f"GET /project/task/evaluate {[('tid', tid)]}"][1]["message"]
        for action in (lambda: c.evaluate(tid), lambda: c.export(tid, "infer", os.path.join(ws, "x")),
                       lambda: c.predict(tid), lambda: c.split_dataset(did, 0.25, 0.1),
                       lambda: c.resume_training(tid, 1), lambda: c.start_prune(tid),
                       lambda: c.save_pretrained(source["pid"], tid, "again"),
                       lambda: c.train(c.create_task(source["pid"], {**SHORT, "model": "MobileNetV3_small"})["tid"])):
            refused = refusal(action)
            assert refused.code == "files_missing" and "missing" in refused.message, refused.message
        c.import_dataset(did, os.path.join(str(source["base"]), "classification-3-12"))  # "import again" works
        wait_for(lambda: c.dataset(did)["dataset_status"] == DatasetStatus.XCOPYDONE, timeout=60, what="import")
        assert c.dataset_details(did)["details"]["file_info"] and "missing" not in str(c.dataset(did)["message"])
    finally:
        server.stop()
        server.shutdown_supervisor()


def tree_digest(folder: str) -> str:
    """A digest of the names and contents of the files under `folder`."""
    h = hashlib.sha256()
    for root, dirs, names in sorted(os.walk(folder)):
        dirs.sort()
        for name in sorted(names):
            path = os.path.join(root, name)
            h.update(os.path.relpath(path, folder).encode())
            if os.path.isfile(path):
                with open(path, "rb") as f:
                    h.update(f.read())
    return h.hexdigest()


def test_a_restore_with_files_evaluates_exports_and_trains(source) -> None:
    sources = [os.path.join(source["ws"], "datasets", source["did"]),
               os.path.join(source["ws"], "projects", source["pid"], source["tid"], "output")]
    before = [tree_digest(folder) for folder in sources]
    ws, out = restore(source, "full", "--with-files")
    pmid, tid = source["pmid"], source["tid"]
    assert "could not bring back" in out and f"{pmid}: " in out and "deleted at seq" in out, out
    note = json.load(open(os.path.join(ws, ".pdxsrv", "restored.json")))
    assert note["with_files"] and note["until_seq"] == source["until"] and pmid in note["gone"]
    assert not os.path.exists(os.path.join(ws, ".pdxsrv", "supervisor")), "the source's job records must stay there"
    server = Server(ws, "--allow-path", str(source["base"]), supervise=True)
    try:
        c = Client(server.url)
        assert not {k: v for k, v in every_get(server.url, source, ws).items() if v[0] >= 500}
        assert "missing" not in c.task(tid)["message"] and "missing" not in str(c.dataset(source["did"])["message"])
        assert c.dataset_details(source["did"])["details"]["file_info"]
        assert "files are missing" in c.model(pmid)["message"] and "deleted at seq" in c.model(pmid)["message"]
        c.evaluate(tid)
        evaluation = wait_evaluated(c, tid)
        assert evaluation["evaluate_status"] == TaskStatus.XEVALUATED and evaluation["result"], evaluation
        save_dir = os.path.join(ws, "exports", "again")
        c.export(tid, "infer", save_dir)
        assert wait_exported(c, tid)["export_status"] == TaskStatus.XEXPORTED
        assert os.path.isfile(os.path.join(save_dir, "deploy.yml"))
        fresh = c.create_task(source["pid"], {**SHORT, "model": "MobileNetV3_small", "num_epochs": 1})["tid"]
        c.train(fresh)
        assert wait_trained(c, fresh)["task_status"] == TaskStatus.XTRAINDONE
    finally:
        server.stop()
        server.shutdown_supervisor()
    assert [tree_digest(folder) for folder in sources] == before, "the restored workspace changed the source's files"
