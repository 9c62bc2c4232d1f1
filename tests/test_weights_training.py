"""Tasks naming published weights (IMAGENET, COCO, CITYSCAPES) through the HTTP API, against a mirror on 127.0.0.1.

The generated file has FastSCNN's names and shapes (19 Cityscapes classes); the mirror publishes its SHA-256.
"""

from __future__ import annotations

import io
import os
from typing import Any, Iterator

import pytest

from pdxsrv.client import ApiError, Client
from pdxsrv.domain.enums import TaskStatus
from pdxsrv.weights import lookup
from tests.conftest import Server, free_port
from tests.http_mirror import HttpMirror
from tests.supervisor_support import wait_for
from tests.training_support import project_on_generated_data, supervised_server, wait_trained

FAST = lookup("FastSCNN", "CITYSCAPES")
BISENET = lookup("BiSeNetV2", "CITYSCAPES")
SHORT = {"model": "FastSCNN", "pretrain_weights": "CITYSCAPES", "num_epochs": 1, "image_shape": [64, 64],
         "batch_size": 4}


def _saved(model: str) -> bytes:
    import paddle

    from pdxsrv.engine import seg_models

    buffer = io.BytesIO()
    paddle.save(seg_models.build(model, 19, 3, {}).state_dict(), buffer)
    return buffer.getvalue()


@pytest.fixture(scope="module")
def mirror() -> Iterator[HttpMirror]:
    srv = HttpMirror("weights")
    srv.publish(FAST.mirror_name, _saved("FastSCNN"))
    srv.publish(BISENET.mirror_name, _saved("BiSeNetV2"), digest="0" * 64)  # a sidecar that does not match
    yield srv
    srv.close()


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, mirror: HttpMirror) -> Iterator[Server]:
    base = tmp_path_factory.mktemp("weights-training")
    with supervised_server(base, "--weights-mirror", mirror.url, "--weights-dir", str(base / "cache")) as srv:
        srv.cache = str(base / "cache")
        yield srv


def test_a_task_downloads_its_weights_with_progress_and_the_next_reuses_them(server: Server,
                                                                              mirror: HttpMirror) -> None:
    c = Client(server.url)
    pid = project_on_generated_data(c, server.base, "segmentation", images=16, seed=11)
    answer = c.recommended_params(pid, model_type="FastSCNN")
    assert answer["recipe"] == "fine_tune" and answer["train"]["pretrain_weights"] == "CITYSCAPES"

    mirror.slow = 0.05  # about 1.3 MB/s: the download is seen in flight
    first = c.create_task(pid, SHORT)["tid"]
    c.train(first)
    seen = wait_for(lambda: (log := c.metrics(first, "train")["train_log"])["download_status"] and log, timeout=60,
                    what="the download in flight")
    status = seen["download_status"]
    assert status == "Done" or 0 <= status["download"] <= status["total"] > 0, status
    assert wait_trained(c, first)["task_status"] == TaskStatus.XTRAINDONE
    mirror.slow = 0.0
    assert c.metrics(first, "train")["train_log"]["download_status"] == "Done"
    assert os.path.isfile(os.path.join(server.cache, FAST.file)) and mirror.hits(FAST.mirror_name) == 1

    second = c.create_task(pid, SHORT)["tid"]
    c.train(second)
    assert wait_trained(c, second)["task_status"] == TaskStatus.XTRAINDONE
    assert mirror.hits(FAST.mirror_name) == 1, "the second task took the cached file"
    assert c.metrics(second, "train")["train_log"]["download_status"] is None


def test_a_checksum_mismatch_fails_the_task_and_places_nothing(server: Server) -> None:
    c = Client(server.url)
    pid = project_on_generated_data(c, server.base, "segmentation", images=16, seed=12)
    tid = c.create_task(pid, {**SHORT, "model": "BiSeNetV2"})["tid"]
    c.train(tid)
    failed = wait_trained(c, tid)
    assert failed["task_status"] == TaskStatus.XTRAINFAIL
    assert "SHA-256" in failed["message"] or "does not match" in failed["message"], failed["message"]
    assert c.metrics(tid, "train")["train_log"]["download_status"] == "Failed"
    assert not [f for f in os.listdir(server.cache) if f.startswith("BiSeNetV2") and not f.endswith(".lock")]


def test_unreachable_weights_fail_at_once_saying_where_to_put_them(tmp_path: Any) -> None:
    closed = f"http://127.0.0.1:{free_port()}/weights"
    with supervised_server(tmp_path, "--weights-mirror", closed, "--weights-dir", str(tmp_path / "cache")) as srv:
        c = Client(srv.url)
        pid = project_on_generated_data(c, srv.base, "segmentation", images=16, seed=13)
        assert c.recommended_params(pid, model_type="FastSCNN")["recipe"] == "from_scratch"
        tid = c.create_task(pid, SHORT)["tid"]
        c.train(tid)
        failed = wait_trained(c, tid, timeout=120)
        assert failed["task_status"] == TaskStatus.XTRAINFAIL
        assert os.path.join(str(tmp_path / "cache"), FAST.file) in failed["message"]
        assert "--weights-mirror" in failed["message"] and FAST.mirror_name in failed["message"]


def test_offline_refuses_to_start_and_says_what_to_do(tmp_path: Any) -> None:
    with supervised_server(tmp_path) as srv:  # the tests' servers are --offline
        c = Client(srv.url)
        pid = project_on_generated_data(c, srv.base, "segmentation", images=16, seed=14)
        answer = c.recommended_params(pid, model_type="FastSCNN")
        assert answer["recipe"] == "from_scratch" and answer["train"]["pretrain_weights"] is None
        tid = c.create_task(pid, SHORT)["tid"]
        with pytest.raises(ApiError) as refused:
            c.train(tid)
        assert refused.value.code == "conflict" and "--offline" in refused.value.message
        assert FAST.file in refused.value.message and "--weights-mirror" in refused.value.message
        assert c.task(tid)["task_status"] == TaskStatus.XINIT
