"""Helpers and the `env` fixture of the supervisor tests: real processes, real sockets."""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from typing import Any, Callable, Iterator

import psutil
import pytest

from supervisor.client import Client

PYTHON = sys.executable
FAKE_JOB = os.path.join(os.path.dirname(os.path.abspath(__file__)), "fake_job.py")


def wait_for(predicate: Callable[[], Any], timeout: float = 30.0, what: str = "condition") -> Any:
    """Poll `predicate` until it returns something truthy; fail after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


async def until(predicate: Callable[[], Any], timeout: float = 15.0, what: str = "condition") -> Any:
    """`wait_for` on an event loop: poll `predicate` between awaits; fail after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while not (value := predicate()):
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.05)
    return value


def fake_job(*args: str) -> list[str]:
    """argv of the fake job."""
    return [PYTHON, FAKE_JOB, *args]


def group_members(pgid: int) -> list[psutil.Process]:
    """Live (non-zombie) processes of process group `pgid`."""
    members = []
    for proc in psutil.process_iter(["status"]):
        try:
            if os.getpgid(proc.pid) == pgid and proc.info["status"] != psutil.STATUS_ZOMBIE:
                members.append(proc)
        except (ProcessLookupError, psutil.Error):
            continue
    return members


class Supervisor:
    """A `python -m supervisor` process."""

    def __init__(self, endpoint: str, state_dir: str, grace: float = 10.0) -> None:
        self.endpoint = endpoint
        self.log = tempfile.NamedTemporaryFile("w+", prefix="supervisor-", suffix=".log")
        self.proc = subprocess.Popen(
            [PYTHON, "-m", "supervisor", "--endpoint", endpoint, "--state-dir", state_dir, "--grace", str(grace)],
            stdout=subprocess.DEVNULL, stderr=self.log,
        )
        self.client = Client(endpoint, timeout=2.0, retries=5)
        self.client.ping()

    def kill9(self) -> None:
        """kill -9 the supervisor and reap it."""
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(timeout=30)
        self.client.close()

    def stderr(self) -> str:
        """What the supervisor logged."""
        with open(self.log.name) as f:
            return f.read()


class Env:
    """A temp dir with short ipc paths, a state dir, and the supervisors started in it."""

    def __init__(self) -> None:
        self.root = tempfile.mkdtemp(prefix="sup-", dir="/tmp")
        self.endpoint = f"ipc://{self.root}/sup"
        self.state_dir = os.path.join(self.root, "state")
        self.started: list[Supervisor] = []

    def start(self, grace: float = 10.0) -> Supervisor:
        """Start a supervisor on this env's endpoint and state dir."""
        sup = Supervisor(self.endpoint, self.state_dir, grace)
        self.started.append(sup)
        return sup

    def job_dir(self, name: str) -> str:
        """A job directory path (not created)."""
        return os.path.join(self.root, "jobs", name)

    def cleanup(self) -> None:
        """Kill the supervisors and every job process they started."""
        for sup in self.started:
            if sup.proc.poll() is None:
                sup.proc.kill()
                sup.proc.wait()
        for pgid in _recorded_pgids(self.state_dir):
            try:
                os.killpg(pgid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
        shutil.rmtree(self.root, ignore_errors=True)


def _recorded_pgids(state_dir: str) -> list[int]:
    from supervisor.records import RecordStore

    store = RecordStore(state_dir)
    return [r.pgid for r in store.load_all() if r.pgid and r.pgid != os.getpgid(0)]


@pytest.fixture
def env() -> Iterator[Env]:
    """A supervisor test environment, cleaned up at the end."""
    e = Env()
    yield e
    e.cleanup()
