"""Crashes and stops: kill -9 of the supervisor and of jobs, re-adoption, graceful and forced stops."""

from __future__ import annotations

import asyncio
import os
import signal
from typing import Any

import psutil

from supervisor.subscriber import Subscriber
from tests.supervisor_support import Env, fake_job, group_members, wait_for


def _read_pid(path: str) -> int:
    return int(wait_for(lambda: os.path.exists(path) and open(path).read().strip(), what=path))


def _state(sup: Any, job: str, state: str, timeout: float = 15.0) -> dict[str, Any]:
    return wait_for(lambda: (i := sup.client.status(job))["state"] == state and i, timeout, f"{job} to be {state}")


def test_job_survives_supervisor_kill9_and_is_readopted(env: Env) -> None:
    sup = env.start()
    flag = os.path.join(env.root, "go")
    first = sup.client.spawn("t", fake_job("--count", "5", "--wait-file", flag, "--after", "20"), env.job_dir("t"))
    wait_for(lambda: sup.client.status("t")["last_seq"] == 5, what="the first records")
    sup.kill9()
    assert psutil.pid_exists(first["pid"])
    sup2 = env.start()
    info = sup2.client.status("t")
    assert info["state"] == "running" and info["pid"] == first["pid"] and info["last_seq"] == 5

    async def scenario() -> None:
        got: list[int] = []
        states: list[str] = []
        sub = Subscriber(env.endpoint, lambda job, rec: got.append(rec["seq"]),
                         on_state=lambda job, i: states.append(i["state"]), last_seqs={"t": 3})
        await sub.start()
        open(flag, "w").close()
        loop = asyncio.get_running_loop()
        deadline = loop.time() + 20
        while not ("exited" in states and len(got) >= 23) and loop.time() < deadline:
            await asyncio.sleep(0.05)
        assert got == list(range(4, 27)) and states[-1] == "exited"
        await sub.close()

    asyncio.run(scenario())
    done = sup2.client.status("t")
    assert done["exit_code"] == 0 and done["last_seq"] == 26


def test_job_that_ends_while_no_supervisor_runs_is_not_running(env: Env) -> None:
    sup = env.start()
    flag = os.path.join(env.root, "go")
    crashing = sup.client.spawn("crash", fake_job("--wait-file", flag, "--exit", "3", "--stderr", "boom"),
                                env.job_dir("crash"))
    vanishing = sup.client.spawn("gone", fake_job("--sleep", "60"), env.job_dir("gone"))
    _read_pid(os.path.join(env.job_dir("gone"), "job.pid"))
    sup.kill9()
    open(flag, "w").close()
    os.killpg(vanishing["pgid"], signal.SIGKILL)  # runner and command die: nobody records an exit
    wait_for(lambda: os.path.exists(os.path.join(env.job_dir("crash"), "exit.msgpack")), what="crash's exit record")
    wait_for(lambda: not group_members(vanishing["pgid"]), what="the killed group to vanish")
    del crashing
    sup2 = env.start()
    crash = sup2.client.status("crash")
    assert crash["state"] == "failed" and crash["exit_code"] == 3 and "boom" in crash["err_tail"]
    assert "supervisor started" in crash["message"]
    gone = sup2.client.status("gone")
    assert gone["state"] == "lost" and "exit status" in gone["message"]


def test_kill9_of_a_job_is_failed_with_signal_and_err_tail(env: Env) -> None:
    sup = env.start()
    sup.client.spawn("k", fake_job("--sleep", "60", "--stderr", "last words"), env.job_dir("k"))
    pid = _read_pid(os.path.join(env.job_dir("k"), "job.pid"))
    os.kill(pid, signal.SIGKILL)  # how soon it is seen is measured by bench/progress_bench.py, not asserted
    info = wait_for(lambda: (i := sup.client.status("k"))["state"] == "failed" and i, 15.0, "k to be failed")
    assert info["signal"] == 9 and info["exit_code"] is None and "last words" in info["err_tail"]


def test_kill9_of_the_runner_fails_the_job_and_leaves_no_orphan(env: Env) -> None:
    sup = env.start()
    info = sup.client.spawn("r", fake_job("--sleep", "60"), env.job_dir("r"))
    _read_pid(os.path.join(env.job_dir("r"), "job.pid"))
    os.kill(info["pid"], signal.SIGKILL)
    done = _state(sup, "r", "failed")
    assert done["signal"] == 9
    wait_for(lambda: not group_members(info["pgid"]), what="the command to be killed too")


def test_stop_of_a_job_that_saves_on_sigterm(env: Env) -> None:
    sup = env.start()
    cwd = env.job_dir("s")
    sup.client.spawn("s", fake_job("--sleep", "60", "--term", "save"), cwd, grace=30)
    _read_pid(os.path.join(cwd, "job.pid"))
    assert sup.client.stop("s")["state"] == "stopping"
    info = _state(sup, "s", "exited")
    assert os.path.exists(os.path.join(cwd, "saved")) and info["exit_code"] == 0
    assert sup.client.replay_from("s", 1)["records"][-1]["data"]["message"] == "saved on SIGTERM"
    assert sup.client.stop("s")["state"] == "exited"  # idempotent on finished jobs


def test_stop_of_a_job_that_ignores_sigterm_kills_its_group(env: Env) -> None:
    sup = env.start()
    cwd = env.job_dir("i")
    info = sup.client.spawn("i", fake_job("--sleep", "60", "--term", "ignore", "--child"), cwd)
    child = _read_pid(os.path.join(cwd, "child.pid"))
    _read_pid(os.path.join(cwd, "job.pid"))
    assert len(group_members(info["pgid"])) == 3
    assert sup.client.stop("i", grace=1.0)["state"] == "stopping"
    done = _state(sup, "i", "killed")
    assert done["signal"] == 9
    wait_for(lambda: not group_members(info["pgid"]), what="no process left in the group")
    assert not any(p.pid == child for p in group_members(info["pgid"]))


def test_shutdown_leaves_jobs_running_and_a_pending_stop_is_finished_by_the_next_supervisor(env: Env) -> None:
    sup = env.start()
    cwd = env.job_dir("p")
    info = sup.client.spawn("p", fake_job("--sleep", "60", "--term", "ignore"), cwd)
    _read_pid(os.path.join(cwd, "job.pid"))
    assert sup.client.stop("p", grace=1.5)["state"] == "stopping"
    assert sup.client.shutdown() == {}
    assert sup.proc.wait(timeout=30) == 0
    assert psutil.pid_exists(info["pid"])
    sup2 = env.start()
    done = _state(sup2, "p", "killed")
    assert done["signal"] == 9 and done["pid"] == info["pid"]
    wait_for(lambda: not group_members(info["pgid"]), what="no process left in the group")
