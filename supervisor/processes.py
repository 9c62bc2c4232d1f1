"""Starting job runners, recognising them again after a restart, watching and signalling them."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from dataclasses import dataclass
from typing import Any

import psutil

from supervisor.records import JobRecord, read_msgpack
from supervisor.runner import EXIT_FILE

CREATE_TIME_TOLERANCE = 0.05  # seconds: psutil's create_time of one process is stable to well below this


@dataclass
class ExitFacts:
    """How a runner ended, as far as anyone knows."""

    exit_code: int | None
    signal: int | None
    ended: float | None
    recorded: bool  # the runner wrote exit.msgpack


class JobProcess:
    """A job's runner: a process group led by the runner process."""

    def __init__(self, pid: int, create_time: float, popen: subprocess.Popen[bytes] | None) -> None:
        self.pid = pid
        self.pgid = pid
        self.create_time = create_time
        self.popen = popen  # None for an adopted runner (not our child)
        self.kill_sent = False

    @classmethod
    def start(cls, record: JobRecord, env: dict[str, str]) -> "JobProcess":
        """Start the runner for `record` in its own session (raises OSError if that fails)."""
        os.makedirs(record.cwd, exist_ok=True)
        exit_path = os.path.join(record.cwd, EXIT_FILE)
        if os.path.exists(exit_path):
            os.unlink(exit_path)
        with open(os.path.join(record.cwd, "err.log"), "ab") as err:
            popen = subprocess.Popen(
                [sys.executable, "-m", "supervisor.runner", record.cwd, "--", *record.argv],
                cwd=record.cwd, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=err,
                start_new_session=True, close_fds=True,
            )
        try:
            create_time = psutil.Process(popen.pid).create_time()
        except psutil.Error:
            create_time = 0.0  # already gone: poll() will see it
        return cls(popen.pid, create_time, popen)

    @classmethod
    def adopt(cls, record: JobRecord) -> "JobProcess | None":
        """The runner of `record` if that very process is still alive (pid and create_time match)."""
        if record.pid is None or record.create_time is None:
            return None
        try:
            proc = psutil.Process(record.pid)
            if proc.status() == psutil.STATUS_ZOMBIE:
                return None
            if abs(proc.create_time() - record.create_time) > CREATE_TIME_TOLERANCE:
                return None  # the pid was recycled
        except psutil.Error:
            return None
        return cls(record.pid, record.create_time, None)

    def alive(self) -> bool:
        """Whether the runner still runs (zombies count as dead)."""
        if self.popen is not None:
            return self.popen.poll() is None
        try:
            proc = psutil.Process(self.pid)
            if abs(proc.create_time() - self.create_time) > CREATE_TIME_TOLERANCE:
                return False
            return proc.status() != psutil.STATUS_ZOMBIE
        except psutil.Error:
            return False

    def signal_group(self, sig: int) -> None:
        """Send `sig` to the whole process group (nothing if it is gone)."""
        try:
            os.killpg(self.pgid, sig)
        except (ProcessLookupError, PermissionError):
            pass

    def kill_leftovers(self) -> None:
        """SIGKILL whatever is left of the group once the runner ended (no orphans)."""
        self.signal_group(signal.SIGKILL)

    def exit_facts(self, cwd: str) -> ExitFacts:
        """How the (ended) runner's command ended: exit.msgpack, else the runner's own status."""
        facts = read_exit_facts(cwd, self.pid, self.popen.returncode if self.popen is not None else None)
        if not facts.recorded and facts.exit_code is None and facts.signal is None and self.kill_sent:
            return ExitFacts(None, signal.SIGKILL.value, None, False)  # adopted: we sent the SIGKILL ourselves
        return facts


def read_exit_facts(cwd: str, pid: int | None, runner_returncode: int | None = None) -> ExitFacts:
    """Exit facts from `<cwd>/exit.msgpack` written by runner `pid`, else from the runner's return code."""
    data: Any = read_msgpack(os.path.join(cwd, EXIT_FILE))
    if isinstance(data, dict) and data.get("pid") in (pid, None):
        return ExitFacts(data.get("exit_code"), data.get("signal"), data.get("ended"), True)
    if runner_returncode is not None and runner_returncode < 0:
        return ExitFacts(None, -runner_returncode, None, False)
    return ExitFacts(runner_returncode, None, None, False)
