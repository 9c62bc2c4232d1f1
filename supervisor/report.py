"""What a job calls to report: append to its journal, then PUSH the record to the supervisor.

Record types written here: ``progress`` (not fsync'd: high rate), ``metric``, ``log`` and ``done``
(fsync'd). The data of each is the keyword arguments given (``log``: ``{"message", "level"}``).
A ``done`` with ``ok: false`` (not ``stopped``) also writes ``job failed: <message>`` to stderr,
so the job's err.log ends with the cause of the failure, as its reader expects.
The journal is the truth; the PUSH is a best-effort fast path (never blocks, bounded linger).

A journal write that fails (a full disk) is undone by the log (`eventlog.LogWriteFailed`: the
journal ends at its last whole record and takes appends again): a ``progress`` record is then
dropped with a line on stderr; any other record raises, so the job fails with the reason instead
of going on with a journal that misses what it reported.
"""

from __future__ import annotations

import atexit
import os
import sys
from typing import Any

import zmq

from eventlog import Event, EventLog, LogWriteFailed
from supervisor import protocol
from supervisor.journal import journal_dir, record_map

FAILED_PREFIX = "job failed: "
PUSH_LINGER_MS = 1000
PUSH_HWM = 100_000


class Reporter:
    """Writes one job's journal and pushes each record to the supervisor."""

    def __init__(self, job: str, job_dir: str, notify: str | None) -> None:
        self.job = job
        self.log = EventLog(journal_dir(job_dir))
        self._ctx: zmq.Context | None = None
        self._push: zmq.Socket | None = None
        if notify:
            self._ctx = zmq.Context()
            self._push = self._ctx.socket(zmq.PUSH)
            self._push.setsockopt(zmq.LINGER, PUSH_LINGER_MS)
            self._push.setsockopt(zmq.SNDHWM, PUSH_HWM)
            self._push.connect(notify)

    @classmethod
    def from_env(cls) -> "Reporter":
        """A reporter for the job the supervisor started this process as (SUPERVISOR_* variables)."""
        job_dir = os.environ.get("SUPERVISOR_JOB_DIR") or os.getcwd()
        return cls(os.environ.get("SUPERVISOR_JOB", ""), job_dir, os.environ.get("SUPERVISOR_NOTIFY"))

    def append(self, type_: str, data: Any, *, sync: bool = True) -> dict[str, Any]:
        """Append one record and push it; return it as a map."""
        (record,) = self.log.append_sync([Event(type_, data)], sync=sync)
        entry = record_map(record)
        if self._push is not None:
            try:
                self._push.send(protocol.pack({"job": self.job, "record": entry}), flags=zmq.NOBLOCK)
            except zmq.Again:
                pass  # nobody listens or the queue is full: the journal still has it
        return entry

    def progress(self, **kv: Any) -> dict[str, Any]:
        """Report progress (written, not fsync'd); dropped, with a line on stderr, if the journal cannot be written."""
        try:
            return self.append("progress", kv, sync=False)
        except LogWriteFailed as exc:
            print(f"progress not recorded: {exc}", file=sys.stderr, flush=True)
            return {}

    def metric(self, **kv: Any) -> dict[str, Any]:
        """Report metrics."""
        return self.append("metric", kv)

    def log_message(self, message: str, level: str = "info") -> dict[str, Any]:
        """Report a log line."""
        return self.append("log", {"message": message, "level": level})

    def done(self, **result: Any) -> dict[str, Any]:
        """Report the job's result; a failure's message also goes to stderr (the end of the job's err.log)."""
        if result.get("ok") is False and not result.get("stopped") and result.get("message"):
            print(f"{FAILED_PREFIX}{result['message']}", file=sys.stderr, flush=True)
        return self.append("done", result)

    def close(self) -> None:
        """Close the journal and the socket (waits at most PUSH_LINGER_MS for unsent records)."""
        if self._push is not None and self._ctx is not None:
            self._push.close()
            self._ctx.term()
            self._push = self._ctx = None
        self.log.close()


_default: Reporter | None = None


def default_reporter() -> Reporter:
    """The process-wide reporter, created from the environment on first use."""
    global _default
    if _default is None:
        _default = Reporter.from_env()
        atexit.register(_close_default)
    return _default


def _close_default() -> None:
    global _default
    if _default is not None:
        _default.close()
        _default = None


def progress(**kv: Any) -> dict[str, Any]:
    """Report progress through the default reporter."""
    return default_reporter().progress(**kv)


def metric(**kv: Any) -> dict[str, Any]:
    """Report metrics through the default reporter."""
    return default_reporter().metric(**kv)


def log(message: str, level: str = "info") -> dict[str, Any]:
    """Report a log line through the default reporter."""
    return default_reporter().log_message(message, level)


def done(**result: Any) -> dict[str, Any]:
    """Report the result through the default reporter."""
    return default_reporter().done(**result)
