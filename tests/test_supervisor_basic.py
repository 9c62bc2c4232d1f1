"""Supervisor basics over real sockets: ops, errors, idempotent spawn, GPU queueing, recycled pids."""

from __future__ import annotations

import os
import time

import msgpack
import psutil
import pytest
import zmq

from supervisor import protocol
from supervisor.client import Client, SupervisorError, SupervisorUnavailable
from supervisor.records import JobRecord, RecordStore
from tests.supervisor_support import Env, fake_job, wait_for


def test_ping_spawn_status_list(env: Env) -> None:
    sup = env.start()
    pong = sup.client.ping()
    assert pong["version"] == protocol.VERSION and pong["pid"] == sup.proc.pid
    cwd = env.job_dir("a")
    info = sup.client.spawn("a", fake_job("--count", "3", "--stderr", "hello"), cwd, env={"X_TEST": "1"})
    assert info["job"] == "a" and info["state"] == "running" and info["pid"] and info["pgid"] == info["pid"]
    done = wait_for(lambda: (i := sup.client.status("a"))["state"] == "exited" and i, what="job a to exit")
    assert done["exit_code"] == 0 and done["signal"] is None and done["last_seq"] == 4
    assert "hello" in done["err_tail"]
    assert [i["job"] for i in sup.client.list()] == ["a"]
    replay = sup.client.replay_from("a", 2)
    assert [r["seq"] for r in replay["records"]] == [2, 3, 4]
    assert [r["type"] for r in replay["records"]] == ["progress", "progress", "done"]
    assert os.path.exists(os.path.join(cwd, "out.log")) and os.path.exists(os.path.join(cwd, "exit.msgpack"))


def test_spawn_of_an_existing_job_returns_it(env: Env) -> None:
    sup = env.start()
    first = sup.client.spawn("j", fake_job("--sleep", "30"), env.job_dir("j"))
    again = sup.client.spawn("j", fake_job("--exit", "3"), env.job_dir("other"))
    assert again["pid"] == first["pid"] and again["state"] == "running" and again["argv"] == first["argv"]
    assert not os.path.exists(env.job_dir("other"))
    assert len(sup.client.list()) == 1


def test_protocol_errors(env: Env) -> None:
    sup = env.start()
    with pytest.raises(SupervisorError) as err:
        sup.client.status("nope")
    assert err.value.code == "no_such_job"
    with pytest.raises(SupervisorError) as err:
        sup.client.request("frobnicate")
    assert err.value.code == "unknown_op"
    with pytest.raises(SupervisorError) as err:
        sup.client.request("spawn", {"job": "x"})
    assert err.value.code == "bad_request"
    with pytest.raises(SupervisorError) as err:
        sup.client.spawn("../evil", ["true"], env.job_dir("e"))
    assert err.value.code == "bad_request"
    ctx = zmq.Context.instance()
    dealer = ctx.socket(zmq.DEALER)
    dealer.setsockopt(zmq.LINGER, 0)
    dealer.connect(env.endpoint)
    try:
        dealer.send(msgpack.packb({"id": "v", "op": "ping", "args": {}, "v": 99}))
        assert dealer.poll(10_000)
        reply = msgpack.unpackb(dealer.recv())
        assert reply["id"] == "v" and not reply["ok"] and reply["error"]["code"] == "version_mismatch"
        dealer.send(b"\xc1not msgpack")
        assert dealer.poll(10_000)
        assert msgpack.unpackb(dealer.recv())["error"]["code"] == "bad_request"
    finally:
        dealer.close()
    assert sup.client.ping()["pid"] == sup.proc.pid  # still serving


def test_client_raises_unavailable_when_nothing_listens(env: Env) -> None:
    client = Client(f"ipc://{env.root}/nobody", timeout=0.2, retries=2)
    with pytest.raises(SupervisorUnavailable):
        client.ping()
    client.close()


def test_jobs_sharing_a_gpu_run_one_after_the_other(env: Env) -> None:
    sup = env.start()
    flag = os.path.join(env.root, "go")
    first = sup.client.spawn("g1", fake_job("--wait-file", flag), env.job_dir("g1"), gpus=[0])
    second = sup.client.spawn("g2", fake_job(), env.job_dir("g2"), gpus=[0, 1])
    cpu = sup.client.spawn("c", fake_job("--wait-file", flag), env.job_dir("c"))
    other_gpu = sup.client.spawn("g3", fake_job("--wait-file", flag), env.job_dir("g3"), gpus=[2])
    assert first["state"] == "running" and cpu["state"] == "running" and other_gpu["state"] == "running"
    assert second["state"] == "queued" and second["pid"] is None
    time.sleep(0.5)
    assert sup.client.status("g2")["state"] == "queued"
    open(flag, "w").close()
    done = wait_for(lambda: (i := sup.client.status("g2"))["state"] == "exited" and i, what="g2 to run and exit")
    g1 = sup.client.status("g1")
    assert g1["state"] == "exited" and done["started"] >= g1["ended"]
    assert sup.client.status("g3")["state"] == "exited"


def test_stop_of_a_queued_job_kills_it(env: Env) -> None:
    sup = env.start()
    sup.client.spawn("q1", fake_job("--sleep", "30"), env.job_dir("q1"), gpus=[0])
    sup.client.spawn("q2", fake_job(), env.job_dir("q2"), gpus=[0])
    info = sup.client.stop("q2")
    assert info["state"] == "killed" and info["pid"] is None
    assert sup.client.stop("q2")["state"] == "killed"  # idempotent


def test_recycled_pid_is_not_adopted(env: Env) -> None:
    me = psutil.Process()
    cwd = env.job_dir("r")
    os.makedirs(cwd)
    store = RecordStore(env.state_dir)
    store.save(JobRecord(job="r", argv=["train"], cwd=cwd, state="running", order=1, pid=me.pid, pgid=None,
                         create_time=me.create_time() - 1000.0, started=time.time()))
    sup = env.start()
    info = sup.client.status("r")
    assert info["state"] == "lost" and "exit status" in info["message"]
    assert me.is_running()
