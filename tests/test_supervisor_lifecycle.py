"""The supervisor's lifecycle seen from pdxsrv: its private socket directory, `pdxsrv supervisor stop`, exiting
when idle, a serve on a busy port leaving nothing behind, re-adoption right after a kill -9 (and a job ending
while pdxsrv's stream reconnects), and a hung supervisor replaced.

Every process touched here is found through the test's own workspace (its supervisor's endpoint and records)."""

from __future__ import annotations

import asyncio
import logging
import os
import shutil
import signal
import socket
import stat
import sys
import time

import zmq
import zmq.asyncio

from eventlog import read_records
from pdxsrv.domain.apply import fold
from pdxsrv.store import Store, events_dir
from pdxsrv.supervision import Supervision, endpoint_for, job_dir_for, start_supervisor, state_dir_for
from supervisor.client import AsyncClient, Client, SupervisorError, SupervisorUnavailable
from supervisor.records import RecordStore
from supervisor.sockdir import socket_dir
from tests.conftest import PYTHON, Server, pdxsrv
from tests.supervisor_support import Env, fake_job, until, wait_for

REPORTING_JOB = os.path.join(os.path.dirname(os.path.abspath(__file__)), "reporting_job.py")
SERVE = ("--offline",)


def _sockdir(ws: str) -> str:
    directory = socket_dir(endpoint_for(ws))
    assert directory is not None
    return directory


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            return f.read().rsplit(b")", 1)[1].split()[0] != b"Z"
    except OSError:
        return False


def _ping(client: Client) -> int | None:
    try:
        return client.ping()["pid"]
    except SupervisorUnavailable:
        return None


def _record(ws: str, job: str) -> dict:
    return next(r for r in RecordStore(state_dir_for(ws)).load_all() if r.job == job).info()


def _kill_leftovers(ws: str) -> None:
    """SIGKILL what this test's supervisor ever started (from its own records) and the supervisor itself."""
    for record in RecordStore(state_dir_for(ws)).load_all() if os.path.isdir(state_dir_for(ws)) else []:
        if record.pgid and record.state not in ("exited", "failed", "killed", "lost"):
            try:
                os.killpg(record.pgid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
    client = Client(endpoint_for(ws), timeout=1.0, retries=0)
    try:
        client.shutdown()
    except SupervisorUnavailable:
        pass
    finally:
        client.close()


def test_a_socket_directory_others_can_enter_is_refused_naming_it(tmp_path) -> None:
    ws = str(tmp_path / "ws")
    directory = _sockdir(ws)
    os.makedirs(directory)
    os.chmod(directory, 0o777)
    try:
        result = pdxsrv("serve", "--workspace", ws, "--port", "0", "--offline", timeout=60)
        assert result.returncode != 0
        assert directory in result.stderr and "not private" in result.stderr and "0777" in result.stderr, result.stderr
        assert os.listdir(directory) == [], "no supervisor bound a socket there"
        assert stat.S_IMODE(os.stat(directory).st_mode) == 0o777, "refused, not repaired"
        status = pdxsrv("supervisor", "status", "--workspace", ws)
        assert status.returncode != 0 and directory in status.stderr
        alone = pdxsrv("supervisor", "stop", "--workspace", ws)
        assert alone.returncode != 0 and directory in alone.stderr
        sup = os.path.join(str(tmp_path), "state")
        direct = pdxsrv_supervisor(endpoint_for(ws), sup)
        assert direct.returncode != 0 and directory in direct.stderr
        if os.getuid() == 0:  # as root (CI) a directory of another user can be made too
            os.chmod(directory, 0o700)
            os.chown(directory, 65534, 65534)
            result = pdxsrv("serve", "--workspace", ws, "--port", "0", "--offline", timeout=60)
            assert result.returncode != 0 and directory in result.stderr and "uid 65534" in result.stderr
            assert os.listdir(directory) == []
    finally:
        os.rmdir(directory)


def pdxsrv_supervisor(endpoint: str, state_dir: str):
    import subprocess

    return subprocess.run([PYTHON, "-m", "supervisor", "--endpoint", endpoint, "--state-dir", state_dir],
                          capture_output=True, text=True, timeout=60)


def test_a_serve_on_a_busy_port_names_it_and_leaves_nothing_behind(tmp_path) -> None:
    ws = str(tmp_path / "new-ws")
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        port = taken.getsockname()[1]
        result = pdxsrv("serve", "--workspace", ws, "--port", str(port), "--offline", timeout=60)
    assert result.returncode != 0
    assert f"port {port} on 127.0.0.1 is in use" in result.stderr and "choose another with --port" in result.stderr
    assert "Traceback" not in result.stderr
    assert not os.path.exists(ws), "no workspace was created"
    assert not os.path.exists(_sockdir(ws)), "no supervisor was started"


def test_shutdown_with_stop_jobs_drains_starts_nothing_new_then_exits(env: Env) -> None:
    sup = env.start()
    running = sup.client.spawn("a", fake_job("--sleep", "60", "--term", "save"), env.job_dir("a"), gpus=[0])
    sup.client.spawn("b", fake_job("--sleep", "60"), env.job_dir("b"), gpus=[0])  # waits for GPU 0
    wait_for(lambda: os.path.exists(os.path.join(env.job_dir("a"), "job.pid")), what="a to start")
    assert sup.client.status("b")["state"] == "queued"
    assert sup.client.shutdown(stop_jobs=True) == {"stopping": ["a", "b"]}
    try:
        sup.client.spawn("c", fake_job("--sleep", "1"), env.job_dir("c"))
        raise AssertionError("a draining supervisor started a new job")
    except SupervisorError as refused:
        assert refused.code == "shutting_down"
    except SupervisorUnavailable:
        pass  # it already exited
    assert sup.proc.wait(timeout=30) == 0
    records = {r.job: r for r in RecordStore(env.state_dir).load_all()}
    assert records["a"].state == "exited" and os.path.exists(os.path.join(env.job_dir("a"), "saved"))
    assert records["b"].state == "killed" and records["b"].pid is None, "the queued job was never started"
    assert "c" not in records and not _alive(running["pid"])
    assert "draining -> closing: every job has ended" in sup.stderr()


def test_supervisor_stop_stops_the_jobs_gracefully_and_removes_its_sockets(tmp_path) -> None:
    ws = str(tmp_path / "ws")
    server = Server(ws, *SERVE, supervise=True)
    client = Client(endpoint_for(ws), timeout=2.0, retries=2)
    try:
        cwd = os.path.join(ws, ".pdxsrv", "jobs", "x.stop.1")
        client.spawn("x.stop.1", fake_job("--sleep", "120", "--term", "save"), cwd, grace=30)
        wait_for(lambda: os.path.exists(os.path.join(cwd, "job.pid")), what="the job to start")
        sup = client.ping()["pid"]
        refused = pdxsrv("supervisor", "stop", "--workspace", ws)
        assert refused.returncode == 2 and f"served by process {server.proc.pid}" in refused.stdout
        assert server.stop() == 0
        stopped = pdxsrv("supervisor", "stop", "--workspace", ws, timeout=120)
        assert stopped.returncode == 0, stopped.stdout + stopped.stderr
        assert "x.stop.1" in stopped.stdout and f"supervisor pid {sup} exited" in stopped.stdout
        assert not _alive(sup)
        record = _record(ws, "x.stop.1")
        assert record["state"] == "exited" and os.path.exists(os.path.join(cwd, "saved")), record
        assert not os.path.exists(_sockdir(ws)), "the socket directory is removed when the supervisor exits"
        again = pdxsrv("supervisor", "stop", "--workspace", ws)
        assert again.returncode == 0 and "no supervisor runs" in again.stdout
    finally:
        server.stop()
        client.close()
        _kill_leftovers(ws)


def test_supervisor_stop_keep_jobs_leaves_them_for_the_next_supervisor(tmp_path) -> None:
    ws = str(tmp_path / "ws")
    server = Server(ws, *SERVE, supervise=True)
    client = Client(endpoint_for(ws), timeout=2.0, retries=2)
    try:
        cwd = os.path.join(ws, ".pdxsrv", "jobs", "x.keep.1")
        info = client.spawn("x.keep.1", fake_job("--sleep", "120"), cwd)
        wait_for(lambda: os.path.exists(os.path.join(cwd, "job.pid")), what="the job to start")
        server.stop()
        kept = pdxsrv("supervisor", "stop", "--workspace", ws, "--keep-jobs")
        assert kept.returncode == 0 and "keep running" in kept.stdout, kept.stdout + kept.stderr
        assert _alive(info["pid"]) and _record(ws, "x.keep.1")["state"] == "running"
        server = Server(ws, *SERVE, supervise=True)
        adopted = wait_for(lambda: (i := client.status("x.keep.1"))["state"] == "running" and i, what="re-adoption")
        assert adopted["pid"] == info["pid"]
    finally:
        server.stop()
        server.shutdown_supervisor()
        client.close()
        _kill_leftovers(ws)


def test_an_idle_supervisor_exits_after_its_last_client_left_and_when_its_workspace_is_gone(tmp_path) -> None:
    ws = str(tmp_path / "ws")
    server = Server(ws, *SERVE, "--supervisor-idle-exit", "2", supervise=True)
    client = Client(endpoint_for(ws), timeout=2.0, retries=1)
    try:
        sup = client.ping()["pid"]
        time.sleep(3)
        assert _alive(sup), "a supervisor with a pdxsrv connected does not exit"
        server.stop()
        began = time.monotonic()
        wait_for(lambda: not _alive(sup), timeout=30, what="the idle supervisor to exit")
        print(f"\nidle supervisor exited {time.monotonic() - began:.1f} s after its last client left (idle exit 2 s)")
        assert not os.path.exists(_sockdir(ws))
        assert "idle with no client for 2 s" in open(os.path.join(state_dir_for(ws), "supervisor.log")).read()

        other = str(tmp_path / "gone")
        server = Server(other, *SERVE, supervise=True)  # the default idle time: only the deletion ends it
        second = Client(endpoint_for(other), timeout=2.0, retries=1)
        try:
            sup = second.ping()["pid"]
        finally:
            second.close()
        server.stop()
        assert _alive(sup)
        shutil.rmtree(other)
        wait_for(lambda: not _alive(sup), timeout=30, what="the supervisor of a deleted workspace to exit")
        assert not os.path.exists(_sockdir(other))
    finally:
        server.stop()
        client.close()
        _kill_leftovers(ws)


def test_a_supervisor_killed_with_signal_9_is_replaced_at_once_and_its_job_re_adopted(tmp_path) -> None:
    ws = str(tmp_path / "ws")
    job_dir = os.path.join(ws, ".pdxsrv", "jobs", "x.train.1")
    server = Server(ws, *SERVE, supervise=True)
    client = Client(endpoint_for(ws), timeout=0.5, retries=0)
    try:
        client.spawn("x.train.1", [sys.executable, REPORTING_JOB, "--count", "200", "--pause-at", "100",
                                   "--wait-file", os.path.join(job_dir, "go")], job_dir)
        wait_for(lambda: (j := fold(read_records(events_dir(ws))).jobs.get("x.train.1")) and j.journal_seq >= 100,
                 what="100 reports")
        old = client.ping()["pid"]
        job_pid = client.status("x.train.1")["pid"]
        killed = time.monotonic()
        os.kill(old, signal.SIGKILL)  # this workspace's own supervisor, by the pid it answered
        new = wait_for(lambda: (p := _ping(client)) not in (None, old) and p, timeout=30, what="a new supervisor")
        info = wait_for(lambda: (i := client.status("x.train.1"))["state"] == "running" and i, what="re-adoption")
        adopted = time.monotonic() - killed
        assert info["pid"] == job_pid, "the same job process, re-adopted"
        open(os.path.join(job_dir, "go"), "w").close()  # it reports 100 more, through the new supervisor
        job = wait_for(lambda: (j := fold(read_records(events_dir(ws))).jobs["x.train.1"]).state == "exited" and j,
                       what="the job to end")
        reported = time.monotonic() - killed
        assert job.journal_seq == 201 and job.result == {"steps": 200}
        log = server.stderr()
        assert f"the supervisor (pid {old}) exited: starting a new one" in log, log
        assert "no heartbeat" not in log, "seen by its process ending, not by missed heartbeats"
        print(f"\nsupervisor kill -9 -> new supervisor pid {new} with the job re-adopted: {adopted:.2f} s; "
              f"the job's next 100 reports recorded {reported:.2f} s after the kill")
    finally:
        server.stop()
        server.shutdown_supervisor()
        client.close()
        _kill_leftovers(ws)


def test_a_job_ending_while_the_stream_reconnects_to_a_new_supervisor_is_recorded_as_ended(tmp_path) -> None:
    """A SUB socket misses what is published while it reconnects (here slowed to 2-4 s, as on a loaded machine), so
    pdxsrv reconciles with a new supervisor only once its heartbeat arrived: else a job that ended in between, after
    the new supervisor's list, stayed "running" in the workspace for good."""
    asyncio.run(_end_while_the_stream_reconnects(str(tmp_path / "ws")))


async def _end_while_the_stream_reconnects(ws: str) -> None:
    job, job_dir = "x.train.1", job_dir_for(ws, "x.train.1")
    said: list[str] = []
    heard = logging.Handler()
    heard.emit = lambda record: said.append(record.getMessage())  # type: ignore[method-assign]
    logging.getLogger("pdxsrv.supervision").addHandler(heard)
    slow = zmq.asyncio.Context()
    slow.setsockopt(zmq.RECONNECT_IVL, 2000)  # pdxsrv's sockets reconnect 2-4 s after their peer went
    store = Store(ws)
    supervision = Supervision(store, context=slow)
    client = AsyncClient(endpoint_for(ws), timeout=0.5, retries=0)
    try:
        start_supervisor(ws, endpoint_for(ws))  # bound before pdxsrv's sockets first connect: they need no reconnect
        await _answering(client)
        await supervision.start()
        await client.spawn(job, [sys.executable, REPORTING_JOB, "--count", "20", "--pause-at", "10",
                                 "--wait-file", os.path.join(job_dir, "go")], job_dir)
        await until(lambda: (j := store.state.jobs.get(job)) and j.journal_seq >= 10, what="10 reports")
        os.kill((await client.ping())["pid"], signal.SIGKILL)  # this workspace's own supervisor, by its answer
        await until(lambda: any("runs and the jobs are reconciled" in m for m in said), what="the new supervisor")
        assert store.state.jobs[job].state == "running", "re-adopted"
        open(os.path.join(job_dir, "go"), "w").close()  # it ends now, after the reconciliation
        ended = await until(lambda: (j := store.state.jobs[job]).state != "running" and j, what="its end recorded")
        assert (ended.state, ended.journal_seq, ended.result) == ("exited", 21, {"steps": 20}), ended
        assert not any("reconciling anyway" in m for m in said), said
    finally:
        logging.getLogger("pdxsrv.supervision").removeHandler(heard)
        await supervision.close()
        await store.aclose()
        client.close()
        slow.term()
        _kill_leftovers(ws)


async def _answering(client: AsyncClient, timeout: float = 15.0) -> None:
    """Wait until the supervisor answers a ping."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            await client.ping()
            return
        except SupervisorUnavailable:
            if time.monotonic() > deadline:
                raise


def test_a_hung_supervisor_is_answered_for_then_killed_and_replaced_and_its_job_re_adopted(tmp_path) -> None:
    from pdxsrv.datasets.synthetic import make

    ws, data = str(tmp_path / "ws"), str(tmp_path / "data")
    make("classification", data, images=8, size=32, seed=1)
    job_dir = os.path.join(ws, ".pdxsrv", "jobs", "x.train.1")
    server = Server(ws, *SERVE, "--allow-path", str(tmp_path), supervise=True)
    client = Client(endpoint_for(ws), timeout=0.5, retries=0)
    old = None
    try:
        client.spawn("x.train.1", [sys.executable, REPORTING_JOB, "--count", "20", "--pause-at", "10",
                                   "--wait-file", os.path.join(job_dir, "go")], job_dir)
        wait_for(lambda: (j := fold(read_records(events_dir(ws))).jobs.get("x.train.1")) and j.journal_seq >= 10,
                 what="10 reports")
        did = server.request("POST", "/dataset", {"name": "d", "dataset_type": "classification"})[1]["did"]
        old, job_pid = client.ping()["pid"], client.status("x.train.1")["pid"]
        os.kill(old, signal.SIGSTOP)  # this workspace's own supervisor, by the pid it answered: alive, answering nothing
        status, body = server.request("PUT", "/dataset", {"did": did, "path": data})
        assert body["status"] == -1 and body["code"] == "supervisor_unavailable", body
        assert "try again in a few seconds" in body["message"]
        assert server.request("GET", "/dataset")[0] == 200, "reads need no supervisor"
        new = wait_for(lambda: (p := _ping(client)) not in (None, old) and p, timeout=60, what="a new supervisor")
        assert not _alive(old), "the hung supervisor was killed"
        info = wait_for(lambda: (i := client.status("x.train.1"))["state"] == "running" and i, what="re-adoption")
        assert info["pid"] == job_pid, "the same job process, re-adopted"
        open(os.path.join(job_dir, "go"), "w").close()
        job = wait_for(lambda: (j := fold(read_records(events_dir(ws))).jobs["x.train.1"]).state == "exited" and j,
                       what="the job to end")
        assert job.journal_seq == 21 and job.result == {"steps": 20}, "every report, once"
        assert server.request("PUT", "/dataset", {"did": did, "path": data})[1]["status"] == 1, "spawns work again"
        log = server.stderr()
        assert f"the supervisor (pid {old}) holds the workspace but has answered nothing for" in log, log
        print(f"\nhung supervisor {old} replaced by {new}")
    finally:
        if old is not None and _alive(old):
            os.kill(old, signal.SIGKILL)
        server.stop()
        server.shutdown_supervisor()
        client.close()
        _kill_leftovers(ws)
