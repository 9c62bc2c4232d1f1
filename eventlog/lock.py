"""The writer lock of a log directory: flock() on <dir>/LOCK, which holds the writer's pid."""

from __future__ import annotations

import fcntl
import os

from eventlog.errors import LogLocked


def acquire_lock(path: str) -> int:
    """flock() `path` exclusively and write our pid in it; raise LogLocked if someone holds it."""
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        try:
            pid = int(os.pread(fd, 32, 0).decode().strip() or 0) or None
        except ValueError:
            pid = None
        os.close(fd)
        raise LogLocked(path, pid) from None
    os.ftruncate(fd, 0)
    os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
    return fd
