"""pdxsrv with a real supervisor and real jobs: reports reach the workspace log once, in order, and in time."""

from __future__ import annotations

import os
import signal
import sys

from eventlog import read_records
from pdxsrv.domain.apply import fold
from pdxsrv.store import events_dir
from pdxsrv.supervision import endpoint_for
from pdxsrv.client import ApiError
from pdxsrv.client import Client as ApiClient
from pdxsrv.domain.enums import TaskStatus
from supervisor.client import Client
from tests.conftest import Server, pdxsrv
from tests.supervisor_support import wait_for

JOB = os.path.join(os.path.dirname(os.path.abspath(__file__)), "reporting_job.py")


def state_of(ws: str):
    return fold(read_records(events_dir(ws)))


def test_1000_reports_arrive_once_and_in_order_across_a_kill_9_of_pdxsrv(tmp_path) -> None:
    ws = str(tmp_path / "ws")
    job_dir = os.path.join(ws, "projects", "P0001", "T0001", "train.1")
    server = Server(ws, supervise=True)
    client = Client(endpoint_for(ws))
    try:
        client.spawn("T0001.train.1", [sys.executable, JOB, "--count", "1000", "--pause-at", "400",
                                       "--wait-file", os.path.join(job_dir, "go")], job_dir)
        wait_for(lambda: (j := state_of(ws).jobs.get("T0001.train.1")) and j.journal_seq >= 400, what="400 reports")
        server.stop(signal.SIGKILL)
        open(os.path.join(job_dir, "go"), "w").close()  # the job reports 600 more while pdxsrv is down
        wait_for(lambda: client.status("T0001.train.1")["state"] == "exited", what="the job to end")
        server = Server(ws, supervise=True)
        job = wait_for(lambda: (j := state_of(ws).jobs["T0001.train.1"]).state == "exited" and j, what="exited")
        assert job.journal_seq == 1001 and job.result == {"steps": 1000} and job.exit_code == 0
        reports = [r.data for r in read_records(events_dir(ws)) if r.type == "job.reported"]
        seqs = [r["seq"] for r in reports]
        assert seqs == sorted(set(seqs)), "journal records recorded twice or out of order"
        metrics = [r["data"]["step"] for r in reports if r["kind"] == "metric"]
        assert metrics == list(range(9, 1000, 10)), "every metric is its own event, in order"
        steps = [r["data"]["step"] for r in reports if r["kind"] == "progress"]
        assert steps == sorted(steps), "progress never runs backwards"
        states = [r.data["state"] for r in read_records(events_dir(ws)) if r.type == "job.state_changed"]
        assert states[-1] == "exited" and "running" in states
    finally:
        server.stop()
        server.shutdown_supervisor()
        client.close()


def a_task(server: Server) -> str:
    c = ApiClient(server.url)
    did = c.create_dataset("d", "classification")["did"]
    pid = c.create_project("p", "classification")["pid"]
    c.set_attributes("project", pid, {"did": did})
    return c.create_task(pid, {"model": "MobileNetV2"})["tid"]


def test_a_job_killed_with_signal_9_fails_its_task_with_the_signal_and_err_tail(tmp_path) -> None:
    ws = str(tmp_path / "ws")
    job_dir = os.path.join(ws, "jobs", "T0001.train.1")
    server = Server(ws, supervise=True)
    client = Client(endpoint_for(ws))
    try:
        assert a_task(server) == "T0001"
        client.spawn("T0001.train.1", [sys.executable, JOB, "--sleep", "600", "--stderr", "loading data..."], job_dir)
        pid = int(wait_for(lambda: os.path.exists(os.path.join(job_dir, "job.pid")) and
                           open(os.path.join(job_dir, "job.pid")).read(), what="the job's pid"))
        task = ApiClient(server.url)
        wait_for(lambda: task.task("T0001")["task_status"] == TaskStatus.XTRAINING, what="the task to train")
        for attempt in (lambda: task.delete_task("T0001"), lambda: task.delete_project("P0001")):
            try:
                attempt()
                raise AssertionError("a task whose job runs was deleted")
            except ApiError as refused:
                assert refused.code == "conflict" and "stop it first" in refused.message
        os.kill(pid, signal.SIGKILL)  # (bench/progress_bench.py measures how soon the failure is recorded)
        answer = wait_for(lambda: (a := task.task("T0001"))["task_status"] == TaskStatus.XTRAINFAIL and a,
                          timeout=10, what="the task's failure")
        assert "signal 9 (SIGKILL)" in answer["message"] and "loading data..." in answer["message"]
        status = pdxsrv("supervisor", "status", "--workspace", ws)
        assert status.returncode == 0 and "T0001.train.1" in status.stdout and "failed" in status.stdout
    finally:
        server.stop()
        server.shutdown_supervisor()
        client.close()


def test_pdxsrv_restarts_a_killed_supervisor_and_the_job_is_re_adopted(tmp_path) -> None:
    ws = str(tmp_path / "ws")
    job_dir = os.path.join(ws, "jobs", "T0001.train.1")
    server = Server(ws, supervise=True)
    client = Client(endpoint_for(ws))
    try:
        a_task(server)
        client.spawn("T0001.train.1", [sys.executable, JOB, "--count", "200", "--pause-at", "100",
                                       "--wait-file", os.path.join(job_dir, "go")], job_dir)
        wait_for(lambda: (j := state_of(ws).jobs.get("T0001.train.1")) and j.journal_seq >= 100, what="100 reports")
        old = client.ping()["pid"]
        os.kill(old, signal.SIGKILL)
        new = wait_for(lambda: _ping(client), timeout=30, what="pdxsrv to start a new supervisor")
        assert new != old
        open(os.path.join(job_dir, "go"), "w").close()
        job = wait_for(lambda: (j := state_of(ws).jobs["T0001.train.1"]).state == "exited" and j, what="exited")
        assert job.journal_seq == 201 and job.result == {"steps": 200}
        assert ApiClient(server.url).task("T0001")["task_status"] == TaskStatus.XTRAINDONE
    finally:
        server.stop()
        server.shutdown_supervisor()
        client.close()


def _ping(client: Client) -> int | None:
    from supervisor.client import SupervisorUnavailable

    try:
        return client.ping()["pid"]
    except SupervisorUnavailable:
        return None
