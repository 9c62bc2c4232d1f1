"""The supervisor's hold on its state directory: one supervisor per workspace.

`<state dir>/LOCK` is held with an exclusive `flock` for the supervisor's whole life and holds its pid
as decimal text and a newline (written after the lock is taken). The kernel drops the lock when the
process dies, however it dies, so a successor can always take it. `holder` tells pdxsrv which process
holds it (to replace a supervisor that is alive but hung).
"""

from __future__ import annotations

import fcntl
import os

LOCK_NAME = "LOCK"


class StateDirLocked(Exception):
    """Another supervisor already runs on this state directory."""


def acquire(state_dir: str) -> int:
    """Take the state directory's lock and write our pid into it; the fd holds it (StateDirLocked if taken)."""
    path = os.path.join(state_dir, LOCK_NAME)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        raise StateDirLocked(f"another supervisor holds {path}") from None
    os.ftruncate(fd, 0)
    os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
    return fd


def holder(state_dir: str) -> int | None:
    """The pid of the supervisor holding the state directory, or None when nobody holds it."""
    try:
        fd = os.open(os.path.join(state_dir, LOCK_NAME), os.O_RDONLY)
    except FileNotFoundError:
        return None
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
            return None  # free: nobody holds it
        except BlockingIOError:
            text = os.pread(fd, 32, 0).decode(errors="replace").strip()
            return int(text) if text.isdigit() else None
    finally:
        os.close(fd)
