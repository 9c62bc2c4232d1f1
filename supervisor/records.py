"""Job records: what the supervisor knows about a job, persisted atomically per job.

``<state-dir>/jobs/<job>.msgpack`` holds one msgpack map with the fields of ``JobRecord``
(the spawn request, pid/pgid, the process create_time, the state and exit facts). It is written
to a temp file, fsync'd, renamed over the old one, and the directory fsync'd.
"""

from __future__ import annotations

import dataclasses
import os
import time
from dataclasses import dataclass, field
from typing import Any

import msgpack

ERR_TAIL_LINES = 20

INFO_FIELDS = (
    "job", "state", "pid", "pgid", "gpus", "cwd", "argv", "created", "started", "ended",
    "exit_code", "signal", "message", "err_tail", "last_seq",
)


@dataclass
class JobRecord:
    """One job: its request, its process and its outcome."""

    job: str
    argv: list[str]
    cwd: str
    env: dict[str, str] = field(default_factory=dict)
    gpus: list[int] = field(default_factory=list)
    grace: float = 10.0
    state: str = "queued"
    order: int = 0  # FIFO position among all jobs ever spawned here
    pid: int | None = None
    pgid: int | None = None
    create_time: float | None = None
    created: float = field(default_factory=time.time)
    started: float | None = None
    ended: float | None = None
    exit_code: int | None = None
    signal: int | None = None
    message: str = ""
    err_tail: list[str] = field(default_factory=list)
    last_seq: int = 0
    stop_requested: bool = False
    stop_deadline: float | None = None  # Unix time after which the group gets SIGKILL

    def info(self) -> dict[str, Any]:
        """The job info map of the protocol."""
        return {name: getattr(self, name) for name in INFO_FIELDS}

    def to_map(self) -> dict[str, Any]:
        """Everything, for the record file."""
        return dataclasses.asdict(self)

    @classmethod
    def from_map(cls, data: dict[str, Any]) -> "JobRecord":
        """Rebuild from a record file's map (unknown keys are ignored)."""
        names = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in names})


def atomic_write(path: str, data: bytes) -> None:
    """Write `data` to `path` via temp file + fsync + rename + directory fsync."""
    directory = os.path.dirname(path)
    tmp = f"{path}.tmp.{os.getpid()}"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    try:
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view):]
        os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(tmp, path)
    dfd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(dfd)
    finally:
        os.close(dfd)


def read_msgpack(path: str) -> Any | None:
    """The msgpack value stored in `path`, or None if it is missing or unreadable."""
    try:
        with open(path, "rb") as f:
            return msgpack.unpackb(f.read(), raw=False)
    except (OSError, ValueError, msgpack.UnpackException):
        return None


def err_tail(cwd: str, lines: int = ERR_TAIL_LINES) -> list[str]:
    """The last `lines` lines of `<cwd>/err.log` (empty if there is none)."""
    try:
        with open(os.path.join(cwd, "err.log"), "rb") as f:
            f.seek(0, os.SEEK_END)
            f.seek(max(0, f.tell() - 64 * 1024))
            text = f.read().decode("utf-8", "replace")
    except OSError:
        return []
    return text.splitlines()[-lines:]


class RecordStore:
    """The directory of job records."""

    def __init__(self, state_dir: str) -> None:
        self.directory = os.path.join(os.path.abspath(state_dir), "jobs")
        os.makedirs(self.directory, exist_ok=True)

    def path(self, job: str) -> str:
        """The record file of `job`."""
        return os.path.join(self.directory, f"{job}.msgpack")

    def save(self, record: JobRecord) -> None:
        """Persist `record` atomically."""
        atomic_write(self.path(record.job), msgpack.packb(record.to_map(), use_bin_type=True))

    def load_all(self) -> list[JobRecord]:
        """Every stored record, in spawn order."""
        records = []
        for name in os.listdir(self.directory):
            if name.endswith(".msgpack"):
                data = read_msgpack(os.path.join(self.directory, name))
                if isinstance(data, dict):
                    records.append(JobRecord.from_map(data))
        return sorted(records, key=lambda r: (r.order, r.created))
