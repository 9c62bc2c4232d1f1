"""/demo with a real server and supervisor: download (generated) -> load -> train -> evaluate for every project
type; a mirror on 127.0.0.1 (fetch, resume, checksum mismatch, unreachable), cancel, bad requests."""

from __future__ import annotations

import io
import json
import os
import signal
import tarfile
from typing import Any, Iterator

import pytest

from pdxsrv import download, system
from pdxsrv.client import ApiError, Client
from pdxsrv.datasets.archive import UnsafeArchive, extract
from eventlog import Record
from pdxsrv.datasets.demo_data import RECIPES, build, params_path
from pdxsrv.domain import demos
from pdxsrv.domain import events as ev
from pdxsrv.domain.apply import fold
from pdxsrv.domain.codec import from_data, to_data
from pdxsrv.domain.errors import Conflict
from pdxsrv.domain.events import to_log_event
from pdxsrv.domain.jobs import job_name, job_seen
from pdxsrv.domain.state import EMPTY, Workspace
from pdxsrv.domain.enums import DatasetStatus, DownloadStatus, ProjectType, TaskStatus
from pdxsrv.supervision import endpoint_for
from supervisor.client import Client as SupervisorClient
from tests.conftest import Server, free_port
from tests.http_mirror import HttpMirror
from tests.supervisor_support import wait_for
from tests.training_support import wait_evaluated, wait_trained

# Training cut short for CI: one epoch, small inputs (the demos' own parameters take minutes, see design notes).
SHORT: dict[str, dict[str, Any]] = {
    "classification": {"num_epochs": 1, "image_shape": [32, 32], "save_interval_epochs": 1},
    "segmentation": {"num_epochs": 1, "image_shape": [32, 32], "batch_size": 16, "save_interval_epochs": 1},
    "remote_segmentation": {"num_epochs": 1, "image_shape": [32, 32], "batch_size": 16, "save_interval_epochs": 1},
    "detection": {"num_epochs": 1, "image_shape": [64, 64], "save_interval_epochs": 1},
    "instance_segmentation": {"num_epochs": 1, "image_shape": [64, 64], "save_interval_epochs": 1},
}
# R-CNN steps take many seconds on a CPU: those tests re-split the demo to train and evaluate on a few images.
RESPLIT = {"detection": (0.05, 0.9), "instance_segmentation": (0.01, 0.93)}
REPORT_KEY = {"classification": "Acc1", "segmentation": "Mean_IoU", "remote_segmentation": "Mean_IoU",
              "detection": "mAP", "instance_segmentation": "Mask_mAP"}
DONE, FAILED = int(DownloadStatus.XDDECOMPRESSED), int(DownloadStatus.XDDOWNLOADFAIL)


def wait_prepared(c: Client, prj_type: int | str, timeout: float = 120) -> dict[str, Any]:
    """Poll GET /demo until the preparation ended; return its `attr`."""
    return wait_for(lambda: (a := c.demo_status(prj_type)["attr"])["status"] in (DONE, FAILED) and a,
                    timeout=timeout, what=f"the preparation of demo {prj_type}")


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    srv = Server(str(tmp_path_factory.mktemp("demo") / "ws"), supervise=True)
    try:
        yield srv
    finally:
        srv.stop()
        srv.shutdown_supervisor()


@pytest.mark.parametrize("kind", list(SHORT))
def test_download_load_train_evaluate(server: Server, kind: str) -> None:
    c = Client(server.url)
    code = ProjectType[kind].value
    assert c.demo_status(code)["attr"] == {"status": None, "progress": 0.0, "message": ""}
    with pytest.raises(ApiError, match="not downloaded yet") as refused:
        c.demo("load", code)
    assert refused.value.code == "conflict"

    c.demo("download", code)
    seen = c.demo_status(kind)["attr"]
    assert seen["status"] in (0, 2, 3) and 0.0 <= seen["progress"] <= 100.0
    attr = wait_prepared(c, kind)
    assert (attr["status"], attr["progress"]) == (DONE, 100.0), attr
    assert "generators" in attr["message"]
    name = RECIPES[kind].name
    folder = os.path.join(server.workspace, "demo_datasets", kind, name)
    assert os.path.isfile(params_path(folder, name))
    assert os.listdir(os.path.dirname(folder)) == [name]  # no staging left behind
    c.demo("download", str(code))  # prepared already: nothing to do
    assert c.demo_status(code)["attr"]["status"] == DONE

    loaded = c.demo("load", kind)
    did, pid, tid = loaded["did"], loaded["pid"], loaded["tid"]
    assert c.demo("load", code) == {"status": 1, "loading_status": "dataset already exists"}
    assert c.project(pid)["attr"]["did"] == did and list(c.project(pid)["attr"]["tasks"]) == [tid]
    dataset = wait_for(lambda: (d := c.dataset(did))["dataset_status"] not in (1, 3) and d, timeout=60,
                       what="the demo's import")
    assert dataset["dataset_status"] == DatasetStatus.XSPLITED, dataset["message"]  # pre-split: trains as loaded
    params = c.task_params(tid)["train"]
    demo_params = RECIPES[kind].train_params
    assert {k: params[k] for k in demo_params} == demo_params
    assert params["cuda_visible_devices"] == ("0" if system.gpu_memory() else "")  # this machine decides
    assert params["pretrain_weights"] is None

    if kind in RESPLIT:
        c.split_dataset(did, *RESPLIT[kind])
    c.set_task_params(tid, SHORT[kind])
    c.train(tid)
    done = wait_trained(c, tid, timeout=240)
    assert done["task_status"] == TaskStatus.XTRAINDONE, done["message"]
    c.evaluate(tid)
    evaluation = wait_evaluated(c, tid, timeout=180)
    assert evaluation["evaluate_status"] == TaskStatus.XEVALUATED, evaluation["message"]
    assert 0.0 <= evaluation["result"][REPORT_KEY[kind]] <= 1.0


def test_bad_requests(server: Server) -> None:
    c = Client(server.url)
    for bad in (7, "flowers", -1, 1.5, True):
        with pytest.raises(ApiError, match="is not a project type; use one of: 0 \\(classification\\)") as refused:
            c.demo_status(bad)
        assert refused.value.code == "invalid_argument"
    with pytest.raises(ApiError, match="'type' is 'upload'; use one of: download, load"):
        c.demo("upload", 0)
    with pytest.raises(ApiError, match="'prj_type' is required"):
        c.call("POST", "/demo", type="download")
    with pytest.raises(ApiError, match="nothing to cancel") as refused:
        c.cancel_demo("instance_segmentation")
    assert refused.value.code == "conflict"


# -- a mirror on 127.0.0.1 -------------------------------------------------------------------------


def archive_of(prj_type: str, name: str, work: str) -> bytes:
    """A .tar.gz holding `<name>/` with the type's generated demo and `<name>_params.json`, as a mirror has it."""
    folder = os.path.join(work, f"{prj_type}-{name}", name)
    build(prj_type, folder)
    os.rename(params_path(folder, RECIPES[prj_type].name), params_path(folder, name))
    with open(params_path(folder, name), encoding="utf-8") as f:
        doc = json.load(f)
    doc["dataset_info"]["name"], doc["project_info"]["name"] = f"mirrored {name}", f"mirrored {name} project"
    with open(params_path(folder, name), "w", encoding="utf-8") as f:
        json.dump(doc, f)
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        tar.add(folder, arcname=name)
    return buffer.getvalue()


@pytest.fixture(scope="module")
def mirror() -> Iterator[HttpMirror]:
    srv = HttpMirror("demos")
    yield srv
    srv.close()


@pytest.fixture(scope="module")
def mirrored(tmp_path_factory: pytest.TempPathFactory, mirror: HttpMirror) -> Iterator[Server]:
    srv = Server(str(tmp_path_factory.mktemp("mirrored") / "ws"), "--demo-mirror", mirror.url, supervise=True)
    try:
        yield srv
    finally:
        srv.stop()
        srv.shutdown_supervisor()


def test_mirror_fetch_and_resume(mirrored: Server, mirror: HttpMirror, tmp_path: Any) -> None:
    c = Client(mirrored.url)
    body = archive_of("classification", "vegetables_cls", str(tmp_path))
    mirror.publish("vegetables_cls.tar.gz", body)
    folder = os.path.join(mirrored.workspace, "demo_datasets", "classification")
    os.makedirs(folder)
    with open(os.path.join(folder, "vegetables_cls.tar.gz.part"), "wb") as f:  # an earlier download broke off
        f.write(body[: len(body) // 2])
    mirror.requests.clear()
    c.demo("download", 0)
    attr = wait_prepared(c, 0)
    assert attr["status"] == DONE and "fetched vegetables_cls.tar.gz from" in attr["message"], attr
    assert mirror.ranges == [f"bytes={len(body) // 2}-"]
    with open(os.path.join(folder, "vegetables_cls.tar.gz"), "rb") as f:
        assert f.read() == body
    assert os.path.isfile(os.path.join(folder, "vegetables_cls", "vegetables_cls_params.json"))
    loaded = c.demo("load", 0)
    assert c.dataset(loaded["did"])["attr"]["name"] == "mirrored vegetables_cls"
    assert c.project(loaded["pid"])["attr"]["name"] == "mirrored vegetables_cls project"


def test_mirror_checksum_mismatch_fails_and_loads_nothing(mirrored: Server, mirror: HttpMirror,
                                                          tmp_path: Any) -> None:
    c = Client(mirrored.url)
    body = archive_of("segmentation", "optic_disc_seg", str(tmp_path))
    mirror.publish("optic_disc_seg.tar.gz", body, digest="0" * 64)
    c.demo("download", "segmentation")
    attr = wait_prepared(c, "segmentation")
    assert attr["status"] == FAILED, attr
    assert "does not match the SHA-256 the mirror publishes" in attr["message"] and "0" * 64 in attr["message"]
    folder = os.path.join(mirrored.workspace, "demo_datasets", "segmentation")
    assert os.listdir(folder) == []  # neither the download nor a demo
    with pytest.raises(ApiError, match="preparation of the segmentation demo failed: the archive"):
        c.demo("load", 2)
    assert not [d for d in c.datasets()["datasets"] if d["attr"]["type"] == "segmentation"]


def test_unreachable_mirror_falls_back_to_generating(mirrored: Server, mirror: HttpMirror) -> None:
    c = Client(mirrored.url)
    mirror.files.pop("insect_det.tar.gz", None)  # this mirror has no detection demo: 404
    c.demo("download", 1)
    attr = wait_prepared(c, 1)
    assert attr["status"] == DONE, attr
    assert "built from the generators: the mirror could not serve insect_det.tar.gz" in attr["message"]
    assert "HTTP 404" in attr["message"]
    assert os.path.isdir(os.path.join(mirrored.workspace, "demo_datasets", "detection", RECIPES["detection"].name))


def test_an_archive_that_would_write_outside_fails(mirrored: Server, mirror: HttpMirror, tmp_path: Any) -> None:
    c = Client(mirrored.url)
    path = _tar(str(tmp_path / "evil.tar.gz"), [_member("xiaoduxiong_ins_det/a.txt"), _member("../../../evil.txt")])
    with open(path, "rb") as f:
        mirror.publish("xiaoduxiong_ins_det.tar.gz", f.read())
    c.demo("download", 3)
    attr = wait_prepared(c, 3)
    assert attr["status"] == FAILED and "cannot be used: member '../../../evil.txt' contains '..'" in attr["message"]
    folder = os.path.join(mirrored.workspace, "demo_datasets", "instance_segmentation")
    assert os.listdir(folder) == ["xiaoduxiong_ins_det.tar.gz"]  # verified, but nothing extracted
    assert not os.path.exists(os.path.join(mirrored.workspace, "evil.txt"))


def test_cancel_or_kill_a_running_preparation_then_resume(mirrored: Server, mirror: HttpMirror, tmp_path: Any) -> None:
    c = Client(mirrored.url)
    body = archive_of("remote_segmentation", "remote_sensing_seg", str(tmp_path))
    mirror.publish("remote_sensing_seg.tar.gz", body)
    mirror.slow = 0.5
    try:
        c.demo("download", 4)
        wait_for(lambda: c.demo_status(4)["attr"]["progress"] > 0, timeout=60, what="the download to begin")
        with pytest.raises(ApiError, match="already being prepared"):
            c.demo("download", 4)
        c.cancel_demo(4)
    finally:
        mirror.slow = 0.0
    attr = c.demo_status(4)["attr"]
    assert attr["status"] == FAILED and "stopped" in attr["message"], attr
    folder = os.path.join(mirrored.workspace, "demo_datasets", "remote_segmentation")
    assert os.listdir(folder) == ["remote_sensing_seg.tar.gz.part"]  # kept for the next download to resume
    with pytest.raises(ApiError, match="nothing to cancel"):
        c.cancel_demo(4)

    # kill -9 the next one: it reads as failed, and the one after resumes what both fetched
    part = os.path.join(folder, "remote_sensing_seg.tar.gz.part")
    had = os.path.getsize(part)
    mirror.slow, mirror.requests[:] = 0.5, []
    try:
        c.demo("download", "remote_segmentation")
        wait_for(lambda: c.demo_status(4)["attr"]["progress"] > 0, timeout=60, what="the download to go on")
        supervisor = SupervisorClient(endpoint_for(mirrored.workspace))
        os.kill(supervisor.status("demo-remote_segmentation.demo.2")["pid"], signal.SIGKILL)
        supervisor.close()
        attr = wait_prepared(c, 4)
    finally:
        mirror.slow = 0.0
    assert attr["status"] == FAILED and "killed by signal 9 (SIGKILL)" in attr["message"], attr
    c.demo("download", 4)
    attr = wait_prepared(c, 4)
    assert attr["status"] == DONE, attr
    assert mirror.ranges[0] == f"bytes={had}-" and mirror.ranges[1].startswith("bytes=")  # resumed both times
    assert c.demo("load", 4)["did"]


def test_a_mirror_that_refuses_connections_is_unavailable(tmp_path: Any) -> None:
    url = f"http://127.0.0.1:{free_port()}/demos"
    with pytest.raises(download.Unavailable, match="cannot be reached"):
        download.download(download.join(url, "insect_det.tar.gz"), str(tmp_path), "insect_det.tar.gz", timeout=2,
                          sidecar="required")
    assert os.listdir(tmp_path) == []


# -- safe extraction --------------------------------------------------------------------------------


def _member(name: str, kind: bytes = tarfile.REGTYPE, link: str = "") -> tuple[tarfile.TarInfo, bytes]:
    info = tarfile.TarInfo(name)
    info.type, info.linkname = kind, link
    data = b"x" if kind == tarfile.REGTYPE else b""
    info.size = len(data)
    return info, data


def _tar(path: str, members: list[tuple[tarfile.TarInfo, bytes]]) -> str:
    with tarfile.open(path, "w:gz") as tar:
        for info, data in members:
            tar.addfile(info, io.BytesIO(data))
    return path


@pytest.mark.parametrize("member, message", [
    (_member("/etc/evil"), "'/etc/evil' is an absolute path"),
    (_member("demo/../../evil"), "contains '..'"),
    (_member("demo/link", tarfile.SYMTYPE, "/etc"), "symbolic link 'demo/link' -> target '/etc' is an absolute"),
    (_member("demo/link", tarfile.SYMTYPE, "../../outside"), "symbolic link 'demo/link' -> target '../../outside'"),
    (_member("demo/up", tarfile.SYMTYPE, ".."), "contains '..'"),
    (_member("demo/hard", tarfile.LNKTYPE, "/etc/passwd"), "is an absolute path"),
    (_member("demo/hard", tarfile.LNKTYPE, "demo/missing"), "which is not an earlier file"),
    (_member("demo/tty", tarfile.CHRTYPE), "device, FIFO or other special file"),
    (_member("demo/fifo", tarfile.FIFOTYPE), "device, FIFO or other special file"),
])
def test_unsafe_archives_are_refused_before_anything_is_written(tmp_path: Any, member: Any, message: str) -> None:
    path = _tar(str(tmp_path / "bad.tar.gz"), [_member("demo/a.txt"), member])
    dest = tmp_path / "out"
    with pytest.raises(UnsafeArchive, match=message):
        extract(path, str(dest))
    assert os.listdir(dest) == []


def test_inward_links_extract(tmp_path: Any) -> None:
    path = _tar(str(tmp_path / "ok.tar.gz"), [
        _member("demo/a.txt"), _member("demo/sub/b.txt"), _member("demo/link", tarfile.SYMTYPE, "sub/b.txt"),
        _member("demo/hard", tarfile.LNKTYPE, "demo/a.txt"),
    ])
    extract(path, str(tmp_path / "out"))
    with open(tmp_path / "out" / "demo" / "link") as f:
        assert f.read() == "x"
    assert os.path.isfile(tmp_path / "out" / "demo" / "hard")


# -- the status, derived from the preparation job (pure) -------------------------------------------------


def _apply(state: Workspace, *events: Any) -> Workspace:
    logged = [to_log_event(e) for e in events]
    return fold([Record(state.seq + i + 1, 100.0 + i, e.type, e.v, e.data) for i, e in enumerate(logged)], state)


JOB = "demo-segmentation.demo.1"


def _status(state: Workspace) -> tuple[Any, float, str]:
    prep = demos.preparation(state, "segmentation")
    return prep.status, prep.progress, prep.message


def test_the_status_follows_the_job_and_cannot_stay_downloading() -> None:
    assert job_name(JOB) == ("demo-segmentation", "demo")
    assert _status(EMPTY) == (None, 0.0, "")
    s = _apply(EMPTY, *demos.start_preparation(EMPTY, "segmentation", JOB, ""))
    assert s.jobs[JOB].state == "queued"  # on record at once: a supervisor that forgets it makes it lost
    assert _status(s)[:2] == (DownloadStatus.XDDOWNLOADING, 0.0)
    with pytest.raises(Conflict, match="already being prepared"):
        demos.start_preparation(s, "segmentation", "demo-segmentation.demo.2", "")
    s = _apply(s, *job_seen(s, {"job": JOB, "state": "running", "pid": 5}))
    s = _apply(s, ev.JobReported(JOB, "demo-segmentation", 1, "progress",
                                 {"phase": "downloading", "done": 25, "total": 200, "message": "downloading"}))
    assert _status(s) == (DownloadStatus.XDDOWNLOADING, 12.5, "downloading")
    s = _apply(s, ev.JobReported(JOB, "demo-segmentation", 2, "progress", {"phase": "extracting", "done": 1}))
    assert _status(s)[:2] == (DownloadStatus.XDDOWNLOADDONE, 100.0)
    with pytest.raises(Conflict, match="still being prepared"):
        demos.ready(s, "segmentation")
    lost = _apply(s, ev.JobStateChanged(JOB, "demo-segmentation", "lost", 5, message="the supervisor lost it"))
    assert _status(lost)[0] == DownloadStatus.XDDOWNLOADFAIL and "was lost" in _status(lost)[2]
    killed = _apply(s, ev.JobStateChanged(JOB, "demo-segmentation", "killed", 5, None, 9))
    assert _status(killed)[0] == DownloadStatus.XDDOWNLOADFAIL and "stopped" in _status(killed)[2]
    silent = _apply(s, ev.JobStateChanged(JOB, "demo-segmentation", "exited", 5, 0))
    assert "ended without reporting a result" in _status(silent)[2]
    done = _apply(s, ev.JobReported(JOB, "demo-segmentation", 3, "done",
                                    {"ok": True, "name": "shapes_seg", "source": "generated", "note": "built",
                                     "train_num": 10, "num_classes": 3}),
                  ev.JobStateChanged(JOB, "demo-segmentation", "exited", 5, 0))
    assert _status(done) == (DownloadStatus.XDDECOMPRESSED, 100.0, "built")
    assert demos.ready(done, "segmentation").result["name"] == "shapes_seg"
    again = from_data(to_data(done))  # a snapshot keeps the demo
    assert again.demos == done.demos and _status(again) == _status(done)


def test_load_creates_everything_in_one_batch_and_unload_removes_an_unimported_load() -> None:
    s = _apply(EMPTY, *demos.start_preparation(EMPTY, "segmentation", JOB, "http://mirror"))
    s = _apply(s, ev.JobReported(JOB, "demo-segmentation", 1, "done", {"ok": True, "name": "x"}),
               ev.JobStateChanged(JOB, "demo-segmentation", "exited", 5, 0))
    info = ({"name": "demo data", "desc": ""}, {"name": "demo project", "desc": "d"})
    with pytest.raises(Exception, match="train_params cannot be used: model 'ResNet18' cannot be trained"):
        demos.load(s, "segmentation", *info, {"model": "ResNet18"})
    events = demos.load(s, "segmentation", *info, {"model": "BiSeNetV2", "num_epochs": 2})
    assert [e.TYPE for e in events] == ["dataset.created", "project.created", "project.attributes_set",
                                        "task.created", "demo.loaded"]
    s = _apply(s, *events)
    assert (s.demos["segmentation"].did, s.projects["P0001"].did, s.tasks["T0001"].params["num_epochs"]) == (
        "D0001", "D0001", 2)
    assert demos.name_taken(s, "demo data", "other") == "dataset already exists"
    assert demos.name_taken(s, "other", "demo project") == "project already exists"
    assert demos.pending_load(s, "segmentation") == "D0001"
    s = _apply(s, *demos.unload(s, "segmentation"))
    assert not s.datasets and not s.projects and not s.tasks
