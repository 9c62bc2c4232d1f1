"""Crash tests: kill -9 a process that appends; nothing it was told is durable may be lost."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time

import pytest

from eventlog import EventLog, verify

CHILD = os.path.join(os.path.dirname(__file__), "crash_appender.py")


def crash_once(directory: str, rng: random.Random) -> tuple[set[int], int, bool]:
    """Kill -9 the appender at a random moment; return (acknowledged seqs, last seq, torn tail truncated)."""
    proc = subprocess.Popen(
        [sys.executable, CHILD, directory, "64"],
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)},
    )
    assert proc.stdout.readline().strip() == "ready"
    time.sleep(rng.uniform(0.01, 0.3))
    proc.send_signal(signal.SIGKILL)
    acknowledged = {int(line) for line in proc.stdout.read().split()}
    proc.wait()
    with EventLog(directory) as log:
        last, torn = log.last_seq, log.recovered is not None
        seqs = [r.seq for r in log.read()]
    assert seqs == list(range(1, last + 1))
    report = verify(directory)
    assert report.problem is None, report.problem
    return acknowledged, last, torn


@pytest.mark.parametrize("round_", range(24))
def test_kill_9_loses_nothing_acknowledged(tmp_path, round_: int) -> None:
    rng = random.Random(round_)
    directory = str(tmp_path / "log")
    total_acked = set()
    for _ in range(2):  # crash, reopen and crash again on the same log
        acknowledged, last, _ = crash_once(directory, rng)
        assert not acknowledged or max(acknowledged) <= last, "an acknowledged seq is missing after reopen"
        total_acked |= acknowledged
    assert max(total_acked, default=0) <= last
