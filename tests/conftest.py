"""Shared fixtures: a real `pdxsrv serve` subprocess on a free port, and small helpers."""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from typing import Any, Iterator

import pytest

from tests.supervisor_support import env  # noqa: F401  (a fixture of the supervisor tests)

PYTHON = sys.executable
FAILED_MODULES: set[str] = set()  # the modules (per xdist worker) with a failed test, setup or teardown


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[pytest.TestReport]:
    """Note the module of every failed report (a module that failed keeps its directories to look at)."""
    report = yield
    if report.failed:
        FAILED_MODULES.add(item.module.__name__ if item.module else item.nodeid)
    return report


@pytest.fixture(scope="module", autouse=True)
def module_dirs_removed_when_it_passes(request: pytest.FixtureRequest,
                                       tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """Remove the directories a module's fixtures made (workspaces with every epoch's checkpoints, often 1 GB)
    once the module has passed, so the suite's disk use stays near one module's instead of the run's ~13 GB."""
    base = tmp_path_factory.getbasetemp()
    before = set(os.listdir(base))
    yield
    if request.module.__name__ not in FAILED_MODULES:
        for name in set(os.listdir(base)) - before:
            shutil.rmtree(base / name, ignore_errors=True)


def free_port() -> int:
    """A TCP port nobody listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def pdxsrv(*args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    """Run the `pdxsrv` command (as `python -m pdxsrv`) to completion."""
    return subprocess.run([PYTHON, "-m", "pdxsrv", *args], capture_output=True, text=True, timeout=timeout)


class Server:
    """A `pdxsrv serve` process."""

    def __init__(self, workspace: str, *extra: str, supervise: bool = False) -> None:
        """Start serving; without `supervise` no job supervisor is started (the API alone is tested). Unless told
        otherwise, its pretrained-weights cache and step-cost file are its own (beside the workspace; no file: the
        reference step costs) and it is --offline: no test reaches the internet, and none depends on what a user's
        cache holds or how fast the machine measured."""
        self.workspace = workspace
        self.supervise = supervise
        extra = extra if supervise else ("--no-supervisor", *extra)
        beside = os.path.dirname(os.path.abspath(workspace))
        if "--weights-dir" not in extra:
            extra = (*extra, "--weights-dir", os.path.join(beside, "weights"))
        if "--step-costs" not in extra:
            extra = (*extra, "--step-costs", os.path.join(beside, "step_costs.json"))
        if "--weights-mirror" not in extra and "--offline" not in extra:
            extra = (*extra, "--offline")
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = tempfile.NamedTemporaryFile("w+", prefix="pdxsrv-serve-", suffix=".log")  # a pipe could fill up
        self.proc = subprocess.Popen(
            [PYTHON, "-m", "pdxsrv", "serve", "--workspace", workspace, "--port", str(self.port), *extra],
            stdout=subprocess.DEVNULL,
            stderr=self.log,
        )
        self._wait_ready()

    def _wait_ready(self, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"pdxsrv serve exited {self.proc.returncode}: {self.stderr()}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.2):
                    return
            except OSError:
                time.sleep(0.05)
        raise TimeoutError("pdxsrv serve did not start listening")

    def request(self, method: str, path: str, body: Any = None, *, raw: bytes | None = None) -> tuple[int, Any]:
        """Send a request with an optional JSON body (or `raw` bytes); return (HTTP status, decoded body)."""
        data = raw if raw is not None else None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(self.url + path, data=data, method=method)
        try:
            with urllib.request.urlopen(req, timeout=30) as resp:
                return resp.status, json.loads(resp.read())
        except urllib.error.HTTPError as err:
            return err.code, json.loads(err.read())

    def stderr(self) -> str:
        """What the server logged so far."""
        with open(self.log.name) as f:
            return f.read()

    def stop(self, sig: int = signal.SIGTERM) -> int:
        """Signal the server and wait for it to exit; return its exit code."""
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        return self.proc.wait(timeout=60)

    def shutdown_supervisor(self) -> None:
        """Stop the workspace's jobs and supervisor, which outlive the server by design."""
        from pdxsrv.supervision import endpoint_for
        from supervisor.client import Client, SupervisorUnavailable

        client = Client(endpoint_for(self.workspace), timeout=2.0, retries=1)
        try:
            for job in client.list():
                client.stop(job["job"], grace=1.0)
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline and any(
                j["state"] in ("queued", "starting", "running", "stopping") for j in client.list()
            ):
                time.sleep(0.1)
            client.shutdown()
        except SupervisorUnavailable:
            pass
        finally:
            client.close()


@pytest.fixture
def serve(tmp_path: Any) -> Iterator[Any]:
    """Start servers on workspaces; every one is stopped at the end of the test."""
    started: list[Server] = []

    def start(workspace: str | None = None, *extra: str, supervise: bool = False) -> Server:
        server = Server(workspace or str(tmp_path / "ws"), *extra, supervise=supervise)
        started.append(server)
        return server

    yield start
    for server in started:
        if server.proc.poll() is None:
            server.proc.kill()
            server.proc.wait()
        if server.supervise:
            server.shutdown_supervisor()


@pytest.fixture(autouse=True)
def _no_proxy(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("http_proxy", "HTTP_PROXY", "https_proxy", "HTTPS_PROXY"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
