"""DELETE /system stops every running job as its own stop does: a real training saves what it can and can resume."""

from __future__ import annotations

from pdxsrv.client import Client
from pdxsrv.domain.enums import TaskStatus
from tests.supervisor_support import wait_for
from tests.training_support import project_on_generated_data, supervised_server, wait_trained

PARAMS = {"model": "MobileNetV3_small", "num_epochs": 3, "save_interval_epochs": 2, "batch_size": 2,
          "image_shape": [64, 64], "learning_rate": 0.01, "pretrain_weights": None}


def _progress(c: Client, tid: str) -> tuple[int, int]:
    metrics = c.metrics(tid, "train")["train_log"]["train_metrics"] or {}
    return metrics.get("Epoch") or 0, metrics.get("Step") or 0


def test_delete_system_stops_every_running_job_gracefully(tmp_path) -> None:
    with supervised_server(tmp_path) as server:
        c = Client(server.url)
        assert c.call("DELETE", "/system") == {"status": 1, "stopped": [], "stopping": [], "jobs": {},
                                               "message": "no job was running"}
        pid = project_on_generated_data(c, server.base, "classification", images=80, seed=7, val=0.2, test=0.0)
        tid = c.create_task(pid, PARAMS)["tid"]
        c.train(tid)
        wait_for(lambda: _progress(c, tid) >= (2, 3), timeout=300, what="epoch 2 to be under way")
        answer = c.call("DELETE", "/system")
        assert answer["status"] == 1 and answer["stopped"] == [f"{tid}.train.1"], answer
        assert answer["jobs"] == {f"{tid}.train.1": "exited"}, "it saved and left, as a stop does"
        stopped = wait_trained(c, tid)
        assert stopped["task_status"] == TaskStatus.XTRAINEXIT, stopped["message"]
        assert stopped["resumable"] and stopped["max_saved_epochs"] >= 1, stopped
        assert c.call("DELETE", "/system")["stopped"] == []  # nothing left running
